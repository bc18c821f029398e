from pathlib import Path

from tools.predict import files


def _touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_folders_are_walked_depth_first_names_sorted_images_only(tmp_path):
    scans = tmp_path / "scans"
    _touch(
        scans / "b.png",
        scans / "a.JPG",
        scans / "notes.txt",
        scans / "z" / "c.bmp",
        scans / "m" / "d.webp",
        scans / "m" / "deeper" / "e.tif",
    )
    found = [p.relative_to(scans).as_posix() for p in files.find_images([str(scans)])]
    assert found == ["a.JPG", "b.png", "m/d.webp", "m/deeper/e.tif", "z/c.bmp"]


def test_files_given_come_first_in_order_whatever_their_names(tmp_path):
    _touch(tmp_path / "folder" / "x.png")
    given = [str(tmp_path / "late.txt"), str(tmp_path / "folder"), str(tmp_path / "missing.png")]
    assert list(files.find_images(given)) == [
        tmp_path / "late.txt",  # named by the user: read, and refused by its content if so
        tmp_path / "folder" / "x.png",
        tmp_path / "missing.png",
    ]


def test_the_walk_is_iterative_and_follows_no_link_to_a_folder(tmp_path):
    folder = deepest = tmp_path / "deep"
    folder.mkdir()
    for _ in range(1100):  # deeper than Python's recursion limit (os.makedirs recurses too)
        deepest = deepest / "d"
        deepest.mkdir()
    (deepest / "x.png").write_bytes(b"")
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    try:
        assert list(files.find_images([str(folder)])) == [deepest / "x.png"]
    finally:  # bottom up: shutil.rmtree, and so pytest's clean-up, recurses too
        (deepest / "x.png").unlink()
        (folder / "loop").unlink()
        while deepest != tmp_path:
            deepest.rmdir()
            deepest = deepest.parent

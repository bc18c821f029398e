"""A folder dataset's layout, checked as it is walked, once:

    <folder>/train/<class name>/<image files>
    <folder>/test/<class name>/<image files>

The folder is hostile input: links out of it are not followed, hidden entries are neither
classes nor images, a FIFO is never opened, and names that cannot be shown on one line or
used as class names are problems (problems.Problems), not surprises downstream. Each
folder is listed once, and only one class folder's names are held at a time.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from components.ingest.folder.problems import NAMED, Place, Problems, refusal
from pipeline import images, schema
from pipeline.errors import PipelineError
from pipeline.params import IMAGES_FOLDER, NO_FOLDER


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as found:
        return sorted((entry for entry in found if not entry.name.startswith(".")), key=_name)


def _name(entry: os.DirEntry) -> str:
    return entry.name


def class_folders(root: Path, problems: Problems) -> dict[str, list[str]]:
    """Each split's class folders, sorted (train's order is the class ids'), once the
    folder, its splits and its class folders are checked.

    Raises:
        PipelineError: for the first problem of the layout above the images.
    """
    if root == Path(NO_FOLDER).resolve():
        raise PipelineError(
            f"data.folder is {NO_FOLDER}, a placeholder: set it to {IMAGES_FOLDER}, say "
            "(docs/own-data.md)"
        )
    _check_root(root)
    classes = {split: _split_classes(root, split, problems) for split in schema.RAW_SPLITS}
    problems.raise_any()
    _check_classes(root, classes)
    return classes


def _check_root(root: Path) -> None:
    fix = "set data.folder to a folder of train/ and test/"
    if not root.exists():
        raise refusal(root, f"no such folder; {fix}")
    if not root.is_dir():
        raise refusal(root, f"not a folder; {fix}")
    folders = {e.name: e for e in _entries(root) if e.is_dir() or e.is_symlink()}
    missing = [split for split in schema.RAW_SPLITS if split not in folders]
    if missing:
        lacks = " or ".join(f"{split}/" for split in missing)
        fix = f"add {missing[0]}/<class>/<images>" if len(missing) == 1 else "see docs/own-data.md"
        found = [Place(f"{name}/") for name in folders]
        head = f"no {lacks} folder (folders: {'' if found else 'none'}"
        raise refusal(root, head, found, f"); {fix}")
    for split in schema.RAW_SPLITS:
        if folders[split].is_symlink():
            raise refusal(root, f"{split}/ is a link; make it a folder")
    if others := [Place(f"{name}/") for name in folders if name not in schema.RAW_SPLITS]:
        head = "folders other than train/ and test/: "
        raise refusal(root, head, others[:NAMED], "; move them out", len(others))


def _split_classes(root: Path, split: str, problems: Problems) -> list[str]:
    classes = []
    for entry in _entries(root / split):
        place = f"{split}/{entry.name}"
        if entry.is_symlink():
            problems.layout("class folders that are links", place + "/", "copy the folders in")
        elif not entry.is_dir():
            problems.layout("files outside a class folder", place, "move them into one")
        elif problem := schema.class_name_problem(entry.name):
            problems.layout("bad class names", place + "/", "rename them", detail=problem)
        else:
            classes.append(entry.name)
    return classes


def _check_classes(root: Path, classes: dict[str, list[str]]) -> None:
    train, test = classes[schema.TRAIN], classes[schema.TEST]
    if len(train) < 2:
        said = f"train/ has {len(train)} class folder(s); a classifier needs at least 2"
        raise refusal(root, said)
    if len(train) > schema.MAX_CLASSES:
        raise refusal(
            root,
            f"train/ has {len(train)} class folders; at most {schema.MAX_CLASSES} are supported",
        )
    if unknown := [Place(name) for name in test if name not in set(train)]:
        head = "test/ has classes that train/ lacks: "
        raise refusal(root, head, unknown[:NAMED], "; add them to train/", len(unknown))
    if not test:
        raise refusal(root, "test/ has no class folders; add test images")


def image_files(root: Path, split: str, name: str, problems: Problems) -> Iterator[str]:
    """The names of a class folder's image files, sorted; files that cannot be images are
    bad files, and folders inside it problems of the layout."""
    suffixes = images.suffixes()
    for entry in _entries(root / split / name):
        place = f"{split}/{name}/{entry.name}"
        if entry.is_symlink():
            target = Path(os.path.realpath(entry.path))
            if not target.is_relative_to(root) or not target.is_file():
                problems.bad("links out", place, "copy in")
                continue
        elif entry.is_dir():
            problems.layout("folders inside a class folder", place + "/", "move their images up")
            continue
        elif not stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
            problems.bad("special files", place, "remove")
            continue
        if Path(entry.name).suffix.lower() not in suffixes:
            problems.bad("not images", place, "remove")
        elif problem := _file_name_problem(entry.name):
            problems.bad("bad names", place, "rename", detail=problem)
        else:
            yield entry.name


def _file_name_problem(name: str) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "not UTF-8"
    if not name.isprintable():
        return "a control character"
    return None

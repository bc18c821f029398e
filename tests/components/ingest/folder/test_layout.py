"""The folder's layout, walked once: every bad layout refused in one line, whatever
data.bad_files says; hidden entries ignored, links inside the folder read."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from components.ingest import folder
from pipeline.params import IMAGES_FOLDER, NO_FOLDER
from tests.support.folder_ingest import (
    GREY,
    good_folder,
    read_folder,
    refused,
)
from tests.support.folders import save_png


def test_a_link_inside_the_folder_is_read(tmp_path):
    root = good_folder(tmp_path)
    (root / "train" / "dog" / "again.png").symlink_to(root / "train" / "cat" / "0.png")
    _, examples = read_folder(root)
    assert folder.record_key(b"train/dog/again.png") in {key for key, _, _ in examples["train"]}


def test_hidden_entries_are_not_classes_or_images(tmp_path):
    root = good_folder(tmp_path)
    save_png(GREY, root / "train" / ".ipynb_checkpoints" / "x.png")
    (root / "train" / "cat" / ".DS_Store").write_bytes(b"\0")
    inferred, examples = read_folder(root)
    assert inferred.classes == ("cat", "dog") and len(examples["train"]) == 4


def _move(root: Path, source: str, target: str) -> None:
    (root / target).parent.mkdir(parents=True, exist_ok=True)
    (root / source).rename(root / target)


BAD_LAYOUTS = {
    "no such folder": (lambda r: shutil.rmtree(r), "no such folder", "data.folder"),
    "a file": (lambda r: (shutil.rmtree(r), r.write_text("x")), "not a folder"),
    "no test": (lambda r: shutil.rmtree(r / "test"), "no test/ folder"),
    "no train": (lambda r: shutil.rmtree(r / "train"), "no train/ folder"),
    "extra split": (lambda r: (r / "val").mkdir(), "folders other than train/ and test/: val/"),
    "split a link": (
        lambda r: (
            _move(r, "test", "elsewhere/test"),
            (r / "test").symlink_to(r / "elsewhere/test"),
        ),
        "test/ is a link",
    ),
    "one class": (lambda r: shutil.rmtree(r / "train/dog"), "train/ has 1 class folder"),
    "empty class": (
        lambda r: (r / "train/newt").mkdir(),
        "class folders without images: train/newt/",
    ),
    "unknown test class": (
        lambda r: save_png(GREY, r / "test/newt/0.png"),
        "test/ has classes that train/ lacks: newt",
    ),
    "image outside a class": (
        lambda r: save_png(GREY, r / "train/0.png"),
        "outside a class folder",
    ),
    "folder in a class": (lambda r: save_png(GREY, r / "train/cat/sub/0.png"), "train/cat/sub/"),
    "dotted class name": (lambda r: _move(r, "train/dog", "train/d.g"), "train/d.g/", "rename"),
    "comma class name": (lambda r: _move(r, "train/dog", "train/a,b"), "',' is not allowed"),
    "class link": (
        lambda r: (r / "train/cow").symlink_to(r / "train/cat"),
        "class folders that are links: train/cow/",
    ),
}


@pytest.mark.parametrize("case", BAD_LAYOUTS)
def test_a_bad_layout_is_refused_in_one_line(tmp_path, case):
    make, *words = BAD_LAYOUTS[case]
    root = good_folder(tmp_path / "data")
    make(root)
    refused(root, *words)
    refused(root, *words, bad_files="skip")


def test_a_folder_inside_the_working_folder_is_named_as_the_user_knows_it(tmp_path, monkeypatch):
    # In an experiment the working folder is DVC's temp copy of the project: a refusal names
    # data/images, never .dvc/tmp/exps/tmpXXXX/data/images.
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmp1234"
    root = good_folder(copy / "data" / "images")
    shutil.rmtree(root / "test")
    monkeypatch.chdir(copy)
    message = refused(Path("data/images"), "data.folder data/images: no test/ folder")
    assert "tmp1234" not in message


def test_the_placeholder_folder_is_refused_naming_where_images_go(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / NO_FOLDER).mkdir(parents=True)
    message = refused(Path(NO_FOLDER), f"data.folder is {NO_FOLDER}, a placeholder", IMAGES_FOLDER)
    assert "docs/own-data.md" in message


def test_params_default_folder_is_the_placeholder_git_keeps(monkeypatch):
    # ingest depends on data.folder, so it must exist in a fresh clone; and the place for
    # one's own images must hold no git-tracked file, or `dvc add` refuses it.
    from pipeline.params import load_params
    from tests.support import ROOT

    assert load_params(ROOT / "params.yaml").data.folder == NO_FOLDER
    tracked = subprocess.run(
        ["git", "ls-files", NO_FOLDER, IMAGES_FOLDER], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert tracked and all(name.startswith(f"{NO_FOLDER}/") for name in tracked), tracked

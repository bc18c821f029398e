"""Every refusal of a folder dataset is one line that fits 120 columns as logged, whatever
the names in the folder or of it: long, hostile (control characters, bytes that are not
UTF-8) or many."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.ingest.folder.problems import Place, Problems, refusal
from pipeline.errors import LINE_ROOM, PipelineError
from tests.support.folder_ingest import GREY, good_folder, read_folder
from tests.support.folders import save_png

# A file or folder name as a disk holds it: any bytes but / and NUL, up to 255 of them.
NAMES = (
    st.binary(min_size=1, max_size=255)
    .filter(lambda name: b"/" not in name and b"\0" not in name and name not in (b".", b".."))
    .map(os.fsdecode)
)


def _assert_fits(error: PipelineError) -> str:
    message = str(error)
    assert len(message) <= LINE_ROOM and "\n" not in message, message
    assert message.startswith("data.folder "), message
    return message


@given(
    root=st.lists(NAMES, min_size=1, max_size=4),
    kinds=st.lists(
        st.tuples(st.sampled_from(["bad", "layout"]), NAMES, st.text(max_size=300)), min_size=1
    ),
)
def test_any_problems_are_one_line_within_the_room(root, kinds):
    problems = Problems(Path("/", *root), skip=False)
    for index, (how, name, detail) in enumerate(kinds):
        getattr(problems, how)(f"kind {index % 4}", f"train/{name}", f"fix {index % 3}", detail)
    with pytest.raises(PipelineError) as raised:
        problems.raise_any()
    _assert_fits(raised.value)


@given(root=NAMES, names=st.lists(NAMES, min_size=1, max_size=5), count=st.integers(0, 10**9))
def test_a_refusal_naming_any_places_is_one_line_within_the_room(root, names, count):
    places = [Place(name, detail=name, after=" is 9x7") for name in names]
    message = _assert_fits(refusal(Path(root), "heads: ", places, "; tail", count))
    assert message.endswith("; tail")  # the fix is never cut


LONG = "x" * 200
HOSTILE = os.fsdecode(b"bad-\xff-\x1b[31m-\n-\\-" + b"y" * 200)


@pytest.mark.parametrize("name", [LONG, HOSTILE])
@pytest.mark.parametrize(
    "place",
    [
        "train/{}/0.png",  # a class name that is not one
        "train/cat/{}.txt",  # not an image
        "train/cat/{}.png",  # does not read
        "test/{}/0.png",  # a class train/ lacks (when it is one)
        "{}/cat/0.png",  # a folder beside train/ and test/
        "train/cat/{}/0.png",  # a folder inside a class folder
        "train/{}",  # a file outside a class folder
    ],
)
def test_long_and_hostile_names_in_a_long_folder_are_refused_within_the_room(tmp_path, name, place):
    root = good_folder(tmp_path / LONG / LONG / "data")
    target = root / place.format(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"not an image")
    with pytest.raises(PipelineError) as raised:
        read_folder(root)
    _assert_fits(raised.value)


def test_mixed_sizes_named_by_long_names_are_refused_within_the_room(tmp_path):
    root = good_folder(tmp_path / LONG / "data")
    for index in range(5):
        save_png(np.zeros((9, 7), np.uint8), root / "train/dog" / f"{index}{LONG}.png")
    with pytest.raises(PipelineError) as raised:
        read_folder(root)
    assert "data.image_size" in _assert_fits(raised.value)


@settings(max_examples=30, deadline=None)
@given(names=st.lists(NAMES, min_size=1, max_size=4))
def test_any_names_in_a_folder_read_or_are_refused_within_the_room(tmp_path_factory, names):
    root = good_folder(tmp_path_factory.mktemp("names") / "data")
    for index, name in enumerate(names):
        class_folder = root / ("train" if index % 2 else "test") / name
        try:
            class_folder.mkdir(parents=True, exist_ok=True)
        except OSError:  # a name the file system refuses: nothing to read
            continue
        save_png(GREY, class_folder / f"{index}.png")
    try:
        read_folder(root)
    except PipelineError as error:
        _assert_fits(error)


def test_many_bad_files_are_counted_and_the_first_named_by_its_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the project, holding data/images
    problems = Problems(Path("data/images"), skip=False)
    for index in range(5):
        problems.bad("not images", f"train/cat/notes-{index}.txt", "remove")
    with pytest.raises(PipelineError) as raised:
        problems.raise_any()
    assert _assert_fits(raised.value) == (
        "data.folder data/images: not images: .../notes-0.txt (+4); remove or set "
        "data.bad_files: skip"
    )

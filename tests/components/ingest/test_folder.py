"""A folder of labelled images as a dataset: read as the IDX route reads MNIST, and every bad
folder refused in one line, or its bad files skipped when data.bad_files says so."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from components.ingest import folder, stage
from pipeline import images, schema
from pipeline.errors import PipelineError
from pipeline.params import IMAGES_FOLDER, NO_FOLDER, DataParams
from tests.support.folders import mnist_folder, save_png
from tests.support.fuzz import spoiled
from tests.support.records import read_split

GREY = np.full((6, 5), 200, np.uint8)


def _params(root: Path, **changes) -> DataParams:
    base = DataParams("folder", None, str(root), "as_found", "refuse")
    return dataclasses.replace(base, **changes)


def _read(root: Path, **changes) -> tuple[schema.Schema, dict[str, list]]:
    params = _params(root, **changes)
    found = folder.survey(params)
    return found.schema, {s: list(e) for s, e in folder.examples(found, params).items()}


def _good(root: Path) -> Path:
    """Two classes, two train and one test image each: the smallest folder that is fine."""
    for split, n in (("train", 2), ("test", 1)):
        for name in ("cat", "dog"):
            for i in range(n):
                save_png(GREY, root / split / name / f"{i}.png")
    return root


def _refused(root: Path, *words: str, **changes) -> str:
    # Run as a stage runs, in the project that holds the folder: it is named as data/...
    project = contextlib.chdir(root.parent) if root.is_absolute() else contextlib.nullcontext()
    with pytest.raises(PipelineError) as raised, project:
        _read(root, **changes)
    message = str(raised.value)
    assert "\n" not in message and all(w in message for w in words), message
    return message


@pytest.fixture
def mnist_pngs(tmp_path_factory, mnist) -> Path:
    return mnist_folder(mnist, tmp_path_factory.mktemp("pngs"), {"train": 300, "test": 100})


def test_mnist_as_pngs_reads_as_the_idx_route_does(mnist_pngs, mnist, tmp_path):
    out = tmp_path / "raw"
    ingested = stage.ingest(
        stage.Paths(str(out), str(tmp_path / "schema.json")), _params(mnist_pngs)
    )
    assert ingested.counts == {"train": 300, "test": 100}
    assert schema.read_schema(tmp_path / "schema.json") == schema.Schema(
        28, 28, 1, "uint8", tuple("0123456789"), schema.RESIZE
    )
    for split in schema.RAW_SPLITS:
        records = read_split(out, split, schema.RAW_DTYPE)
        # Each file is named by its IDX key, so each record can be held to that example.
        for key, image, label in zip(
            *(records[k] for k in (schema.KEY, schema.IMAGE, schema.LABEL)), strict=True
        ):
            path = key.decode().split(":", 1)[1]
            assert key == folder.record_key(path.encode())
            index = int(Path(path).stem.split("-")[1])
            assert path.startswith(f"{split}/{label}/")
            np.testing.assert_array_equal(image[..., 0], mnist[f"{split}_images"][index])
            assert label == mnist[f"{split}_labels"][index]


def test_class_ids_are_tfds_image_folders(mnist_pngs):
    import tensorflow_datasets as tfds

    theirs = tfds.folder_dataset.ImageFolder(str(mnist_pngs))
    inferred, examples = _read(mnist_pngs)
    assert inferred.classes == tuple(theirs.info.features["label"].names)
    assert {s: len(e) for s, e in examples.items()} == {
        s: theirs.info.splits[s].num_examples for s in schema.RAW_SPLITS
    }
    labels = {}
    for row in theirs.as_dataset(split="test", decoders={"image": tfds.decode.SkipDecoding()}):
        relative = Path(row["image/filename"].numpy().decode()).relative_to(mnist_pngs)
        labels[folder.record_key(str(relative).encode())] = int(row["label"])
    assert labels == {key: label for key, _, label in examples["test"]}


def test_colour_anywhere_makes_the_schema_rgb_and_greys_are_converted(tmp_path):
    root = _good(tmp_path)
    red = np.zeros((6, 5, 3), np.uint8)
    red[..., 0] = 255
    save_png(red, root / "train" / "cat" / "red.png")
    inferred, examples = _read(root)
    assert inferred.channels == 3 and inferred.framing == schema.RESIZE
    images = {key: image for key, image, _ in examples["train"]}
    assert images[folder.record_key(b"train/cat/red.png")][0, 0].tolist() == [255, 0, 0]
    assert images[folder.record_key(b"train/cat/0.png")][0, 0].tolist() == [200, 200, 200]


def test_a_palette_of_greys_and_16_bit_grey_are_grey(tmp_path):
    root = _good(tmp_path)
    Image.fromarray(GREY).convert("P").save(root / "train" / "cat" / "p.png")
    Image.fromarray(GREY.astype(np.uint16) * 256).save(root / "train" / "dog" / "deep.png")
    inferred, examples = _read(root)
    assert inferred.channels == 1
    images = {key: image for key, image, _ in examples["train"]}
    assert images[folder.record_key(b"train/cat/p.png")].max() == 200
    assert images[folder.record_key(b"train/dog/deep.png")].max() == 200


def test_mixed_sizes_are_refused_naming_files_and_the_param(tmp_path):
    root = _good(tmp_path / "data")
    save_png(np.zeros((9, 7), np.uint8), root / "train" / "dog" / "big.png")
    _refused(root, "1 of 7 images not 6x5", "train/dog/big.png is 9x7", "data.image_size")


def test_mixed_sizes_resize_to_the_most_common_or_a_given_size(tmp_path):
    root = _good(tmp_path)
    save_png(np.zeros((9, 7), np.uint8), root / "train" / "dog" / "big.png")
    inferred, examples = _read(root, image_size="most_common")
    assert inferred.image_shape == (6, 5, 1)
    assert {image.shape for e in examples.values() for _, image, _ in e} == {(6, 5, 1)}
    inferred, examples = _read(root, image_size=[4, 8])
    assert {image.shape for e in examples.values() for _, image, _ in e} == {(4, 8, 1)}


def _link_out(root: Path) -> None:
    outside = root.parent / "outside.png"
    save_png(GREY, outside)
    (root / "train" / "cat" / "link.png").symlink_to(outside)


def _fifo(root: Path) -> None:
    os.mkfifo(root / "train" / "cat" / "pipe.png")


def _truncated(root: Path) -> None:
    data = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (6, 5), np.uint8)
    Image.fromarray(noise).save(data, format="PNG")
    (root / "train" / "cat" / "cut.png").write_bytes(data.getvalue()[:-24])  # the pixels cut short


# Bad files: refused by default, naming the file and the param; skipped when asked.
BAD_FILES = {
    "not an image": (
        lambda r: (r / "train/cat/notes.txt").write_text("hi"),
        "not images: train/cat/notes.txt",
    ),
    "not image data": (
        lambda r: (r / "train/cat/x.png").write_text("hi"),
        "unreadable: train/cat/x.png",
    ),
    "empty": (lambda r: (r / "train/cat/e.png").write_bytes(b""), "unreadable: train/cat/e.png"),
    "truncated": (_truncated, "train/cat/cut.png does not read"),
    "link out": (_link_out, "links out: train/cat/link.png"),
    "fifo": (_fifo, "special files: train/cat/pipe.png"),
    "newline in name": (
        lambda r: save_png(GREY, r / "train/cat/a\nb.png"),
        "bad names: train/cat/a\\nb.png",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_is_refused_or_skipped_as_data_bad_files_says(tmp_path, case):
    make, words = BAD_FILES[case]
    root = _good(tmp_path / "data")
    make(root)
    _refused(root, words, "data.bad_files: skip")
    _, examples = _read(root, bad_files="skip")
    assert len(examples["train"]) == 4


def test_skipped_images_that_do_not_decode_are_counted_and_a_class_left_empty_is_refused(
    tmp_path, caplog
):
    # A truncated PNG's header reads: only decoding finds it, after the survey counted it.
    root = _good(tmp_path / "data")
    _truncated(root)
    with caplog.at_level("WARNING"):
        _, examples = _read(root, bad_files="skip")
    assert len(examples["train"]) == 4
    assert "skipped 1 train images that do not decode" in caplog.text
    assert "train/cat/cut.png" in caplog.text
    for name in ("0.png", "1.png"):  # every train image of "cat" is now truncated
        (root / "train" / "cat" / name).write_bytes((root / "train/cat/cut.png").read_bytes())
    caplog.clear()
    with caplog.at_level("WARNING"):
        _refused(root, "no train image of class cat decodes", bad_files="skip")
    assert "e.g. train/cat/" in caplog.text  # the warning before the refusal names them


def test_a_link_inside_the_folder_is_read(tmp_path):
    root = _good(tmp_path)
    (root / "train" / "dog" / "again.png").symlink_to(root / "train" / "cat" / "0.png")
    _, examples = _read(root)
    assert folder.record_key(b"train/dog/again.png") in {key for key, _, _ in examples["train"]}


def test_hidden_entries_are_not_classes_or_images(tmp_path):
    root = _good(tmp_path)
    save_png(GREY, root / "train" / ".ipynb_checkpoints" / "x.png")
    (root / "train" / "cat" / ".DS_Store").write_bytes(b"\0")
    inferred, examples = _read(root)
    assert inferred.classes == ("cat", "dog") and len(examples["train"]) == 4


def _move(root: Path, source: str, target: str) -> None:
    (root / target).parent.mkdir(parents=True, exist_ok=True)
    (root / source).rename(root / target)


# Bad layouts: always refused, one line naming the problem and the fix.
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
    root = _good(tmp_path / "data")
    make(root)
    _refused(root, *words)
    _refused(root, *words, bad_files="skip")


def test_a_header_claiming_a_huge_image_is_refused_before_decoding(tmp_path):
    root = _good(tmp_path / "data")
    data = io.BytesIO()
    Image.new("L", (1, 1)).save(data, format="PNG")
    png = bytearray(data.getvalue())
    png[16:24] = (100_000).to_bytes(4, "big") * 2  # IHDR's width and height: 10^10 pixels
    png[29:33] = zlib.crc32(png[12:29]).to_bytes(4, "big")  # and the chunk's CRC to match
    (root / "train" / "cat" / "bomb.png").write_bytes(bytes(png))
    _refused(root, "unreadable: train/cat/bomb.png")
    bomb = root / "train" / "cat" / "bomb.png"
    with pytest.raises(PipelineError, match="too large"), images.reading(bomb):
        pass  # the reason, which the line has no room for


def test_a_failed_ingest_leaves_the_previous_outputs(tmp_path):
    root = _good(tmp_path / "data")
    paths = stage.Paths(str(tmp_path / "raw"), str(tmp_path / "schema.json"))
    stage.ingest(paths, _params(root))
    before = {p: p.read_bytes() for p in tmp_path.glob("raw/*")} | {
        Path(paths.schema): Path(paths.schema).read_bytes()
    }
    (root / "train" / "cat" / "x.txt").write_text("?")
    with pytest.raises(PipelineError):
        stage.ingest(paths, _params(root))
    after = {p: p.read_bytes() for p in tmp_path.glob("raw/*")} | {
        Path(paths.schema): Path(paths.schema).read_bytes()
    }
    assert after == before and not list(tmp_path.glob(".*tmp*"))


def _png(size: tuple[int, int], mode: str) -> bytes:
    data = io.BytesIO()
    Image.new(mode, size, 128).save(data, format="PNG")
    return data.getvalue()


FILE_BYTES = spoiled(
    st.builds(
        _png,
        st.tuples(st.integers(1, 12), st.integers(1, 12)),
        st.sampled_from(["L", "RGB", "P", "RGBA", "I;16"]),
    ),
    reach=80,
)


@given(
    files=st.lists(
        st.tuples(st.sampled_from(["train/a", "train/b", "test/a", "test/b"]), FILE_BYTES),
        min_size=1,
        max_size=8,
    ),
    skip=st.booleans(),
    size=st.sampled_from(["as_found", "most_common", [5, 7]]),
)
def test_any_folder_reads_or_fails_in_one_line(tmp_path_factory, files, skip, size):
    root = tmp_path_factory.mktemp("fuzz")
    for index, (place, data) in enumerate(files):
        (root / place).mkdir(parents=True, exist_ok=True)
        (root / place / f"{index}.png").write_bytes(data)
    try:
        inferred, examples = _read(root, bad_files="skip" if skip else "refuse", image_size=size)
    except PipelineError as error:
        assert "\n" not in str(error) and str(error).startswith("data.folder ")
        return
    for split in schema.RAW_SPLITS:
        for _, image, label in examples[split]:
            assert image.shape == inferred.image_shape and image.dtype == np.uint8
            assert 0 <= label < inferred.num_classes


def test_keys_order_the_examples_across_classes(mnist_pngs):
    # Preprocess orders each shard by key: class by class, a shuffle buffer smaller than
    # the split could not mix them. Ten classes by hash: 50 in a row cover most of them.
    _, examples = _read(mnist_pngs)
    first = [label for _, _, label in sorted(examples["train"])[:50]]
    assert len(set(first)) >= 8


def test_a_folder_inside_the_working_folder_is_named_as_the_user_knows_it(tmp_path, monkeypatch):
    # In an experiment the working folder is DVC's temp copy of the project: a refusal names
    # data/images, never .dvc/tmp/exps/tmpXXXX/data/images.
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmp1234"
    root = _good(copy / "data" / "images")
    shutil.rmtree(root / "test")
    monkeypatch.chdir(copy)
    message = _refused(Path("data/images"), "data.folder data/images: no test/ folder")
    assert "tmp1234" not in message


def test_the_placeholder_folder_is_refused_naming_where_images_go(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / NO_FOLDER).mkdir(parents=True)
    message = _refused(Path(NO_FOLDER), f"data.folder is {NO_FOLDER}, a placeholder", IMAGES_FOLDER)
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

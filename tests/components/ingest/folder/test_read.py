"""Reading a surveyed folder: MNIST as PNG files reads as the IDX route does, keys mix the
classes, images that do not decode are refused or skipped, and every byte ingest writes from a
folder is what it wrote before ingest's folder side was split by job (the hashes below were
made by that code)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from components.ingest import folder, stage
from pipeline import schema
from pipeline.errors import PipelineError
from pipeline.params import DataParams
from tests.support.folder_ingest import (
    folder_params,
    good_folder,
    read_folder,
    refused,
    truncate_one,
)
from tests.support.folders import save_png
from tests.support.records import read_split


def _save(image: Image.Image, path: Path, format: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=format)


def _grey_folder(root: Path) -> Path:
    """Greys of every kind a folder holds, mostly 6x5: palette, 16-bit, JPEG, another size,
    a link inside the folder, a file that is not an image and one whose pixels are cut."""
    rng = np.random.default_rng(31)
    for split, count in (("test", 2), ("train", 4)):
        for name in ("cat", "dog", "newt"):
            for index in range(count):
                noise = rng.integers(0, 256, (6, 5), np.uint8)
                save_png(noise, root / split / name / f"{index}.png")
    noise = rng.integers(0, 256, (6, 5), np.uint8)
    _save(Image.fromarray(noise).convert("P"), root / "train/cat/palette.png")
    _save(Image.fromarray(noise.astype(np.uint16) * 257), root / "train/dog/deep.png")
    _save(Image.fromarray(noise), root / "train/dog/photo.jpg", "JPEG")
    save_png(rng.integers(0, 256, (9, 7), np.uint8), root / "train/newt/big.png")
    (root / "train/newt/again.png").symlink_to(root / "train/cat/0.png")
    (root / "train/cat/notes.txt").write_text("not an image")
    data = io.BytesIO()
    Image.fromarray(noise).save(data, format="PNG")
    (root / "test/dog/cut.png").write_bytes(data.getvalue()[:-24])
    return root


def _colour_folder(root: Path) -> Path:
    """RGB, RGBA and grey images of three sizes: the schema is RGB, resized to [4, 8]."""
    rng = np.random.default_rng(32)
    for split, count in (("test", 2), ("train", 3)):
        for name in ("blue", "red"):
            for index in range(count):
                noise = rng.integers(0, 256, (5 + index, 6, 3), np.uint8)
                save_png(noise, root / split / name / f"{index}.png")
    rgba = rng.integers(0, 256, (6, 6, 4), np.uint8)
    _save(Image.fromarray(rgba, "RGBA"), root / "train/red/alpha.png")
    save_png(rng.integers(0, 256, (6, 6), np.uint8), root / "train/blue/grey.png")
    return root


FOLDERS = {  # name: (writer, params, SHA-256 of train's records, test's records, the schema)
    "grey": (
        _grey_folder,
        {"image_size": "most_common", "bad_files": "skip"},
        (
            "217dec3345e8fda133f886233b65dd727038e89aeaec2e807cfe7c8cb752d28e",
            "5ed1c4e1580bbdbf37a89db6159177fe45f8524e337b2219c2d2c581110a989c",
            "2e1d073843dfd65d69b995abf427b0d5d529aa91f6c99a8a0b89fbebebeee9c9",
        ),
    ),
    "colour": (
        _colour_folder,
        {"image_size": [4, 8], "bad_files": "refuse"},
        (
            "752986705cac2fe408a28c018c222959f2fbc4b5976acb45d583367ee0431d59",
            "f26a5d8406fab378082cf5bc08dd996569d66a9f669ba8dc243f3453248c2c4a",
            "bbf91de0b8c6674db5f53997cb3e2b0815b4402787df48f96c7473ebd4f1d533",
        ),
    ),
}


@pytest.mark.parametrize("case", FOLDERS)
def test_a_folder_ingests_to_the_same_bytes(tmp_path, case):
    write, changes, expected = FOLDERS[case]
    root = write(tmp_path / "images")
    params = DataParams("folder", None, str(root), "as_found", "refuse")
    params = dataclasses.replace(params, **changes)
    paths = stage.Paths(str(tmp_path / "raw"), str(tmp_path / "schema.json"))
    stage.ingest(paths, params)
    written = [tmp_path / "raw" / schema.split_file(split) for split in schema.RAW_SPLITS]
    hashes = [hashlib.sha256(p.read_bytes()).hexdigest() for p in [*written, Path(paths.schema)]]
    assert tuple(hashes) == expected


def test_mnist_as_pngs_reads_as_the_idx_route_does(mnist_pngs, mnist, tmp_path):
    out = tmp_path / "raw"
    ingested = stage.ingest(
        stage.Paths(str(out), str(tmp_path / "schema.json")), folder_params(mnist_pngs)
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


def test_skipped_images_that_do_not_decode_are_counted_and_a_class_left_empty_is_refused(
    tmp_path, caplog
):
    # A truncated PNG's header reads: only decoding finds it, after the survey counted it.
    root = good_folder(tmp_path / "data")
    truncate_one(root)
    with caplog.at_level("WARNING"):
        _, examples = read_folder(root, bad_files="skip")
    assert len(examples["train"]) == 4
    assert "skipped 1 train images that do not decode" in caplog.text
    assert "train/cat/cut.png" in caplog.text
    for name in ("0.png", "1.png"):  # every train image of "cat" is now truncated
        (root / "train" / "cat" / name).write_bytes((root / "train/cat/cut.png").read_bytes())
    caplog.clear()
    with caplog.at_level("WARNING"):
        refused(root, "no train image of class cat decodes", bad_files="skip")
    assert "e.g. train/cat/" in caplog.text  # the warning before the refusal names them


def test_a_failed_ingest_leaves_the_previous_outputs(tmp_path):
    root = good_folder(tmp_path / "data")
    paths = stage.Paths(str(tmp_path / "raw"), str(tmp_path / "schema.json"))
    stage.ingest(paths, folder_params(root))
    before = {p: p.read_bytes() for p in tmp_path.glob("raw/*")} | {
        Path(paths.schema): Path(paths.schema).read_bytes()
    }
    (root / "train" / "cat" / "x.txt").write_text("?")
    with pytest.raises(PipelineError):
        stage.ingest(paths, folder_params(root))
    after = {p: p.read_bytes() for p in tmp_path.glob("raw/*")} | {
        Path(paths.schema): Path(paths.schema).read_bytes()
    }
    assert after == before and not list(tmp_path.glob(".*tmp*"))


def test_keys_order_the_examples_across_classes(mnist_pngs):
    # Preprocess orders each shard by key: class by class, a shuffle buffer smaller than
    # the split could not mix them. Ten classes by hash: 50 in a row cover most of them.
    _, examples = read_folder(mnist_pngs)
    first = [label for _, _, label in sorted(examples["train"])[:50]]
    assert len(set(first)) >= 8

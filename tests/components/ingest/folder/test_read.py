"""Reading a surveyed folder: every byte ingest writes from a folder held to what it wrote
before ingest's folder side was split by job (the hashes below were made by that code)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from components.ingest import stage
from pipeline import schema
from pipeline.params import DataParams
from tests.support.folders import save_png


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

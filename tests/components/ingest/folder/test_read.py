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
                save_png(rng.integers(0, 256, (6, 5), np.uint8), root / split / name / f"{index}.png")
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
                side = 5 + index
                save_png(rng.integers(0, 256, (side, 6, 3), np.uint8), root / split / name / f"{index}.png")
    rgba = rng.integers(0, 256, (6, 6, 4), np.uint8)
    _save(Image.fromarray(rgba, "RGBA"), root / "train/red/alpha.png")
    save_png(rng.integers(0, 256, (6, 6), np.uint8), root / "train/blue/grey.png")
    return root


FOLDERS = {  # name: (writer, params, SHA-256 of train's records, test's records, the schema)
    "grey": (
        _grey_folder,
        {"image_size": "most_common", "bad_files": "skip"},
        ("TRAIN", "TEST", "SCHEMA"),
    ),
    "colour": (
        _colour_folder,
        {"image_size": [4, 8], "bad_files": "refuse"},
        ("TRAIN", "TEST", "SCHEMA"),
    ),
}


@pytest.mark.parametrize("case", FOLDERS)
def test_a_folder_ingests_to_the_same_bytes(tmp_path, case):
    write, changes, expected = FOLDERS[case]
    root = write(tmp_path / "images")
    params = dataclasses.replace(DataParams("folder", None, str(root), "as_found", "refuse"), **changes)
    paths = stage.Paths(str(tmp_path / "raw"), str(tmp_path / "schema.json"))
    stage.ingest(paths, params)
    written = [tmp_path / "raw" / schema.split_file(split) for split in schema.RAW_SPLITS]
    hashes = [hashlib.sha256(p.read_bytes()).hexdigest() for p in [*written, Path(paths.schema)]]
    assert tuple(hashes) == expected

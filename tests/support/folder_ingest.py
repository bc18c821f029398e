"""Small folder datasets for the tests of ingest's folder side, read as ingest reads them."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from components.ingest import folder
from pipeline import schema
from pipeline.errors import PipelineError
from pipeline.params import DataParams
from tests.support.folders import save_png

GREY = np.full((6, 5), 200, np.uint8)


def folder_params(root: Path, **changes) -> DataParams:
    """data params reading the folder `root` (as_found, refuse), with `changes`."""
    base = DataParams("folder", None, str(root), "as_found", "refuse")
    return dataclasses.replace(base, **changes)


def read_folder(root: Path, **changes) -> tuple[schema.Schema, dict[str, list]]:
    """The folder's schema and, per split, its examples, as ingest reads them."""
    params = folder_params(root, **changes)
    found = folder.survey(params)
    return found.schema, {s: list(e) for s, e in folder.examples(found, params).items()}


def good_folder(root: Path) -> Path:
    """Two classes, two train and one test image each: the smallest folder that is fine."""
    for split, n in (("train", 2), ("test", 1)):
        for name in ("cat", "dog"):
            for i in range(n):
                save_png(GREY, root / split / name / f"{i}.png")
    return root


def refused(root: Path, *words: str, **changes) -> str:
    """The one line refusing the folder, which holds each of `words`."""
    # Run as a stage runs, in the project that holds the folder: it is named as data/...
    project = contextlib.chdir(root.parent) if root.is_absolute() else contextlib.nullcontext()
    with pytest.raises(PipelineError) as raised, project:
        read_folder(root, **changes)
    message = str(raised.value)
    assert "\n" not in message and all(w in message for w in words), message
    return message


def truncate_one(root: Path) -> None:
    """Adds train/cat/cut.png, whose header reads and whose pixels are cut short."""
    data = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (6, 5), np.uint8)
    Image.fromarray(noise).save(data, format="PNG")
    (root / "train" / "cat" / "cut.png").write_bytes(data.getvalue()[:-24])

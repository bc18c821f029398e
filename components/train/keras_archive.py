"""The trained model as a `.keras` file that is byte-stable: equal weights, equal bytes.

Keras stamps the save time into the archive's `metadata.json` and its zip entries, and
memory addresses (`shared_object_id`s) into `config.json`. Here the archive Keras writes is
rewritten without them, entry by entry: so a re-trained identical model has the same hash,
and DVC does not re-run evaluate. The archive's layout is Keras's, private to it
(docs/upgrading.md, "Keras's .keras archive"; a test guards it).
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import keras

from pipeline import artifacts

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def _renumber_shared_objects(node: Any, ids: dict[int, int]) -> Any:
    """Replaces Keras's `shared_object_id`s (Python `id()`s) by first-seen order numbers."""
    if isinstance(node, dict):
        return {
            key: ids.setdefault(value, len(ids) + 1)
            if key == "shared_object_id"
            else _renumber_shared_objects(value, ids)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared_objects(value, ids) for value in node]
    return node


def save_model(model: keras.Model, path: Path) -> None:
    """Saves `model` at `path` in Keras's native format, byte-stable."""
    with tempfile.TemporaryDirectory() as scratch:
        saved_path = Path(scratch) / artifacts.MODEL_FILE  # Keras wants a .keras name
        model.save(saved_path)
        with zipfile.ZipFile(saved_path) as saved:
            entries = {info.filename: saved.read(info) for info in saved.infolist()}
    metadata = json.loads(entries["metadata.json"])
    metadata.pop("date_saved", None)
    entries["metadata.json"] = json.dumps(metadata).encode()
    config = _renumber_shared_objects(json.loads(entries["config.json"]), {})
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as stable:
        for name, content in entries.items():
            stable.writestr(zipfile.ZipInfo(name, date_time=_ZIP_EPOCH), content)

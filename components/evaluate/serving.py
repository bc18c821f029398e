"""The serving folder: TF Serving's layout of numbered model versions, and its one home.

One base folder (`models/serving`) holds a folder per version, `1/`, `2/`, ..., each a
complete SavedModel. Evaluate pushes the next number (components.evaluate.export) while
holding the folder's lock; a push killed mid-way leaves only a hidden temp folder, never a
version, which the next push removes. Each version carries `assets.extra/push.json`
(TF Serving ignores `assets.extra/`): the SHA-256 of the `.keras` file it was exported
from and its test scores when pushed.

What serves is the latest complete version: evaluate's baseline and mnist-predict's model.
Nothing here imports TensorFlow but `load_signature`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from components.evaluate import version_names
from pipeline import outputs
from pipeline.errors import PipelineError, shown, shown_path
from pipeline.record import Record
from pipeline.reports import Score
from pipeline.schema import Schema, read_schema

SAVED_MODEL = "saved_model.pb"
EXTRA = Path("assets.extra")  # a version's files beside its SavedModel, which TF Serving ignores
PUSH_RECORD = EXTRA / "push.json"
SCHEMA = EXTRA / "schema.json"  # the dataset's: the input size, the classes
TFLITE_MODEL = EXTRA / "model.tflite"  # the same model for LiteRT (components.evaluate.lite)

logger = logging.getLogger(__package__)


def version_of(tflite: Path) -> Path | None:
    """The version folder whose TFLite model `tflite` is, as `TFLITE_MODEL` lays it out; None
    for a .tflite file anywhere else (it carries no schema beside it)."""
    tflite = Path(os.path.abspath(tflite))
    if tflite.parts[-len(TFLITE_MODEL.parts) :] != TFLITE_MODEL.parts:
        return None
    return tflite.parents[len(TFLITE_MODEL.parts) - 1]


@dataclasses.dataclass(frozen=True)
class PushRecord(Record):
    """What a push records about the version it made."""

    model_sha256: str  # of the `.keras` file the version was exported from
    test: Score  # its test scores when pushed


def versions(base: str | Path) -> list[Path]:
    """The version folders under `base`, oldest first, as TF Serving reads their names
    (components.evaluate.version_names)."""
    return list(version_names.listed(base).numbered.values())


def latest_version(base: str | Path) -> Path | None:
    """The highest-numbered version folder (TF Serving's pick), or None."""
    found = versions(base)
    return found[-1] if found else None


def next_version(base: str | Path) -> Path:
    """The folder the next push writes: the latest version's number plus one, written
    plainly (after `007`, TF Serving's version 7, comes `8`).

    Raises:
        PipelineError: if the latest version is the largest number TF Serving reads.
    """
    latest = latest_version(base)
    following = version_names.number(latest) + 1 if latest else 1
    if following > version_names.INT64_MAX:
        raise PipelineError(
            f"{latest} is the largest version number TF Serving reads: no version can follow it; "
            "renumber the versions (or remove it)"
        )
    return Path(base) / str(following)


def saved_model_dir(path: str | Path) -> Path | None:
    """`path` if it is a SavedModel, else the latest version under it if that is one."""
    path = Path(path)
    if (path / SAVED_MODEL).is_file():
        return path
    latest = latest_version(path)
    return latest if latest and (latest / SAVED_MODEL).is_file() else None


def serving_version(base: str | Path) -> Path | None:
    """The version that serves: the latest one; None if there is none yet. Names in `base`
    that TF Serving does not load as versions are warned of, in one line.

    Raises:
        PipelineError: if the latest version is not a complete SavedModel: TF Serving would
            pick it, and fail.
    """
    listing = version_names.listed(base)
    if listing.ignored:
        shown_names = ", ".join(map(shown, listing.ignored[:3]))
        more = f" and {len(listing.ignored) - 3} more" if len(listing.ignored) > 3 else ""
        logger.warning(
            "%s: ignoring %s%s: not version numbers TF Serving loads",
            shown_path(base),
            shown_names,
            more,
        )
    latest = list(listing.numbered.values())[-1] if listing.numbered else None
    if latest is not None and not (latest / SAVED_MODEL).is_file():
        raise PipelineError(
            f"{shown_path(latest)} (the latest) holds no SavedModel: rm -r it so the one before "
            "serves"
        )
    return latest


def number(version: Path) -> int:
    """A version folder's number, as TF Serving reads its name."""
    return version_names.number(version)


@contextlib.contextmanager
def push_lock(base: Path) -> Iterator[None]:
    """Holds `base`'s lock: one run at a time reads the baseline and pushes.

    The lock is on the folder itself, so the serving folder holds versions and nothing else.
    """
    base.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(base, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # released when the descriptor is closed
        yield
    finally:
        os.close(descriptor)


def remove_unfinished_pushes(base: str | Path) -> None:
    """Removes what a push killed mid-way left: a hidden temp folder, never a version.

    Callers hold `base`'s push lock, so no push is under way.
    """
    for stale in Path(base).glob(".*" + outputs.TMP_MARK + "*"):
        outputs.remove(stale)


def write_push_record(version: Path, record: PushRecord) -> None:
    (version / PUSH_RECORD).parent.mkdir(exist_ok=True)
    outputs.write_json(version / PUSH_RECORD, record.to_json())


def read_push_record(version: Path) -> PushRecord | None:
    """What the push of `version` recorded; None for a version pushed by other means.

    Raises:
        PipelineError: for a record that is not what a push writes.
    """
    path = version / PUSH_RECORD
    if not path.exists():
        return None
    try:
        return PushRecord.from_json(outputs.read_report(path))
    except ValueError as error:
        raise PipelineError(
            f"{path} is not a push record ({error}); restore the version or remove it"
        ) from None


def read_version_schema(version: Path) -> Schema | None:
    """The schema a version was pushed with; None for a version pushed before it carried one.

    Raises:
        PipelineError: for a schema file that is not one.
    """
    path = version / SCHEMA
    return read_schema(path) if path.exists() else None


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_signature(version: Path) -> Any:
    """A version's `serving_default`: uint8 `images` in, `probabilities` out.

    Raises:
        PipelineError: for a damaged or foreign SavedModel, in TensorFlow's first words.
    """
    import tensorflow as tf  # only the callers that serve pay for TensorFlow

    try:
        return tf.saved_model.load(str(version)).signatures["serving_default"]
    except Exception as error:  # a damaged or foreign SavedModel fails in TensorFlow's words
        said = str(error).strip().splitlines()[:1] or [type(error).__name__]
        raise PipelineError(f"cannot load the SavedModel in {version} ({said[0][:200]})") from None

"""Data validation against the schema, in the spirit of TFX's ExampleValidator.

Stages read their input and output records back through `check_split_dir`: a record
that is not an Example, a truncated or corrupted file, a wrong image size, a label outside
the classes, NaN or out-of-range pixels, an empty split, a class missing from a split, a key
in two splits, or statistics that drift between splits beyond the params' thresholds each
become an anomaly. Any anomaly fails the stage, naming a JSON report that lists them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from pipeline import artifacts, example, io, schema
from pipeline.errors import PipelineError


class SplitRecords(NamedTuple):
    keys: np.ndarray  # [N] bytes
    images: np.ndarray  # [M, 28, 28, 1], the records whose image has the schema's size
    labels: np.ndarray  # [N] int64
    wrong_size: list[bytes]  # keys of records whose image has another size


def _fix_hint(path: str) -> str:
    return f"re-run the stage that wrote it (dvc repro --force the stage writing {path})"


def _examples(file: str) -> Iterator[tuple[bytes, bytes, int]]:
    """Decodes a file's records as they are read: the raw records are never all in memory."""
    try:
        for record in io.read_tfrecords(file):
            try:
                yield example.decode_example(record)
            except ValueError as error:
                raise PipelineError(
                    f"{file} holds a record that is not a {schema.__name__} example ({error}); "
                    f"{_fix_hint(file)}"
                ) from None
    except io.CorruptRecordsError as error:
        raise PipelineError(
            f"{file} is truncated or corrupted ({error}); {_fix_hint(file)}"
        ) from None


def read_split(directory: str | Path, split: str, dtype: np.dtype) -> SplitRecords:
    """Reads every record of a split, raising a clear error for an unreadable file."""
    size = schema.NUM_PIXELS * np.dtype(dtype).itemsize
    examples = [decoded for file in io.split_files(directory, split) for decoded in _examples(file)]
    keys = np.array([key for key, _, _ in examples], object)
    fits = [len(image) == size for _, image, _ in examples]
    images = b"".join(image for (_, image, _), fit in zip(examples, fits, strict=True) if fit)
    return SplitRecords(
        keys,
        np.frombuffer(images, dtype).reshape(-1, *schema.IMAGE_SHAPE),
        np.array([label for _, _, label in examples], np.int64),
        [key for (key, _, _), fit in zip(examples, fits, strict=True) if not fit],
    )


def _few(items: Any, limit: int = 3) -> str:
    items = list(items)
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def split_anomalies(split: str, records: SplitRecords) -> list[str]:
    """Schema anomalies within one split."""
    found = []
    if len(records.keys) == 0:
        return [f"{split}: the split is empty"]
    if records.wrong_size:
        found.append(
            f"{split}: {len(records.wrong_size)} images are not {schema.IMAGE_SHAPE} "
            f"(keys {_few(records.wrong_size)})"
        )
    outside = (records.labels < 0) | (records.labels >= schema.NUM_CLASSES)
    if outside.any():
        found.append(
            f"{split}: {int(outside.sum())} labels outside 0-{schema.NUM_CLASSES - 1} "
            f"(values {_few(sorted(set(records.labels[outside].tolist())))})"
        )
    if records.images.dtype.kind == "f":
        if np.isnan(records.images).any():
            found.append(f"{split}: {int(np.isnan(records.images).sum())} pixels are NaN")
        out_of_range = (records.images < 0) | (records.images > 1)
        if out_of_range.any():
            found.append(f"{split}: {int(out_of_range.sum())} pixels outside [0, 1]")
    present = set(records.labels[~outside].tolist())
    missing = sorted(set(range(schema.NUM_CLASSES)) - present)
    if missing:
        found.append(f"{split}: no examples of class {_few(missing, 10)}")
    unique, counts = np.unique(records.keys, return_counts=True)
    if (counts > 1).any():
        found.append(f"{split}: duplicate keys {_few(k.decode() for k in unique[counts > 1])}")
    return found


def cross_split_anomalies(key_sets: dict[str, set[bytes]]) -> list[str]:
    """A key in two splits means an example was seen in both: a leak."""
    names = list(key_sets)
    found = []
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = key_sets[first] & key_sets[second]
            if shared:
                found.append(
                    f"{len(shared)} keys are in both {first} and {second} "
                    f"({_few(sorted(k.decode() for k in shared))})"
                )
    return found


def drift_anomalies(
    stats: dict[str, Any], *, max_class_drift: float, max_pixel_mean_drift: float
) -> list[str]:
    """Splits whose class shares (L-infinity) or pixel mean drift from train's."""

    def shares(split: str) -> np.ndarray:
        counts = np.array(list(stats[split]["examples_per_class"].values()), dtype=np.float64)
        return counts / max(counts.sum(), 1)

    found = []
    for split in (s for s in stats if s != schema.TRAIN):
        drift = float(np.abs(shares(split) - shares(schema.TRAIN)).max())
        if drift > max_class_drift:
            found.append(
                f"{split}: class shares drift {drift:.4f} from train's "
                f"(> validate.max_class_drift {max_class_drift})"
            )
        mean_drift = abs(stats[split]["pixel_mean"] - stats[schema.TRAIN]["pixel_mean"])
        if mean_drift > max_pixel_mean_drift:
            found.append(
                f"{split}: pixel mean drifts {mean_drift:.4f} from train's "
                f"(> validate.max_pixel_mean_drift {max_pixel_mean_drift})"
            )
    return found


def report(stage: str, directory: str | Path, anomalies: list[str]) -> None:
    """Writes the stage's anomaly report and fails, or clears an old report if none."""
    path = Path(artifacts.ANOMALIES_DIR) / f"{stage}.json"
    if not anomalies:
        path.unlink(missing_ok=True)
        return
    io.write_json(path, {"stage": stage, "data": str(directory), "anomalies": anomalies})
    raise PipelineError(
        f"{stage}: {len(anomalies)} data anomal{'y' if len(anomalies) == 1 else 'ies'} in "
        f"{directory}, first: {anomalies[0]}; all listed in {path}"
    )


def anomalies(records: dict[str, SplitRecords]) -> list[str]:
    """Anomalies within each split and across splits."""
    found = [a for split, r in records.items() for a in split_anomalies(split, r)]
    return found + cross_split_anomalies({s: set(r.keys.tolist()) for s, r in records.items()})


def check_split_dir(
    stage: str, directory: str | Path, splits: tuple[str, ...], dtype: np.dtype
) -> dict[str, SplitRecords]:
    """Reads and checks the given splits of a record folder; fails on any anomaly.

    Returns:
        The records per split, for the caller to use.

    Raises:
        PipelineError: naming an unreadable file, or the report listing the anomalies.
    """
    records = {split: read_split(directory, split, dtype) for split in splits}
    report(stage, directory, anomalies(records))
    return records

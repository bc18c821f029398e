"""Data validation against the schema, in the spirit of TFX's ExampleValidator.

Stages read their input and output records back through `check_split_dir`: a record
that is not an Example, a truncated or corrupted file, a wrong image size, a label outside
the classes, NaN or out-of-range pixels, an empty split, a class missing from a split, a key
in two splits, or statistics that drift between splits beyond the params' thresholds each
become an anomaly. Any anomaly fails the stage, naming a JSON report that lists them all.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from pipeline import artifacts, example, io, schema
from pipeline.errors import PipelineError


class SplitRecords(NamedTuple):
    examples: example.Examples  # the records whose image has the schema's size
    wrong_size: list[bytes]  # keys of the records whose image has another size

    def all_keys(self) -> np.ndarray:
        """Every record's key, the other-size records' too."""
        return np.concatenate([self.examples.keys, np.array(self.wrong_size, object)])


_READ_CHUNK = 4096  # records decoded at a time: the raw records are never all in memory


def _fix_hint(path: str) -> str:
    return f"re-run the stage that wrote it (dvc repro --force the stage writing {path})"


def _read_file(file: str, dtype: np.dtype) -> Iterator[tuple[example.Examples, list[bytes]]]:
    """Decodes a file's records a chunk at a time, naming the file if it cannot."""
    try:
        records = io.read_tfrecords(file)
        while chunk := list(itertools.islice(records, _READ_CHUNK)):
            try:
                yield example.decode_records(chunk, dtype)
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
    chunks = [
        chunk for file in io.split_files(directory, split) for chunk in _read_file(file, dtype)
    ]
    return SplitRecords(
        example.Examples.concatenate((examples for examples, _ in chunks), dtype),
        [key for _, wrong_size in chunks for key in wrong_size],
    )


def _few(items: Any, limit: int = 3, total: int | None = None) -> str:
    items = list(items)
    total = len(items) if total is None else total
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f" and {total - limit} more" if total > limit else "")


class SplitSummary(NamedTuple):
    """What the schema checks need to know of a split, in a form that merges.

    Beam's preprocess combines summaries of batches on its workers; train and evaluate
    summarise the splits they read. Either way the anomalies read the same.
    """

    examples: int
    class_counts: np.ndarray  # [NUM_CLASSES] int64: examples per in-range label
    outside_labels: int
    outside_values: frozenset[int]
    wrong_size: int  # records whose image has another size
    wrong_size_keys: tuple[bytes, ...]  # the first few, sorted
    nan_pixels: int
    out_of_range_pixels: int

    @classmethod
    def empty(cls) -> SplitSummary:
        return cls(0, np.zeros(schema.NUM_CLASSES, np.int64), 0, frozenset(), 0, (), 0, 0)

    @classmethod
    def of(cls, images: np.ndarray, labels: np.ndarray, wrong_size_keys: Any = ()) -> SplitSummary:
        """Summarises examples: images of the schema's size, all labels, other-size keys."""
        outside = (labels < 0) | (labels >= schema.NUM_CLASSES)
        nan = out_of_range = 0
        # min and max are one fast pass each, and NaN makes both comparisons false: the
        # counting passes, ~10x slower, run only when something is wrong.
        floats = images.dtype.kind == "f"
        if floats and not (images.min(initial=0) >= 0 and images.max(initial=0) <= 1):
            nan = int(np.isnan(images).sum())
            out_of_range = int(((images < 0) | (images > 1)).sum())
        wrong_size_keys = sorted(wrong_size_keys)
        return cls(
            examples=len(labels),
            class_counts=np.bincount(labels[~outside], minlength=schema.NUM_CLASSES),
            outside_labels=int(outside.sum()),
            outside_values=frozenset(labels[outside].tolist()),
            wrong_size=len(wrong_size_keys),
            wrong_size_keys=tuple(wrong_size_keys[:3]),
            nan_pixels=nan,
            out_of_range_pixels=out_of_range,
        )

    def merge(self, other: SplitSummary) -> SplitSummary:
        return SplitSummary(
            self.examples + other.examples,
            self.class_counts + other.class_counts,
            self.outside_labels + other.outside_labels,
            self.outside_values | other.outside_values,
            self.wrong_size + other.wrong_size,
            tuple(sorted(self.wrong_size_keys + other.wrong_size_keys)[:3]),
            self.nan_pixels + other.nan_pixels,
            self.out_of_range_pixels + other.out_of_range_pixels,
        )


def summary_anomalies(split: str, summary: SplitSummary) -> list[str]:
    """Schema anomalies within one split, from its summary."""
    if summary.examples + summary.wrong_size == 0:
        return [f"{split}: the split is empty"]
    found = []
    if summary.wrong_size:
        keys = _few(summary.wrong_size_keys, total=summary.wrong_size)
        found.append(
            f"{split}: {summary.wrong_size} images are not {schema.IMAGE_SHAPE} (keys {keys})"
        )
    if summary.outside_labels:
        found.append(
            f"{split}: {summary.outside_labels} labels outside 0-{schema.NUM_CLASSES - 1} "
            f"(values {_few(sorted(summary.outside_values))})"
        )
    found += pixel_anomalies(split, summary)
    missing = np.flatnonzero(summary.class_counts == 0).tolist()
    if missing:
        found.append(f"{split}: no examples of class {_few(missing, 10)}")
    return found


def pixel_anomalies(split: str, summary: SplitSummary) -> list[str]:
    """NaN or out-of-range pixels: only scaled (float) images can have them."""
    found = []
    if summary.nan_pixels:
        found.append(f"{split}: {summary.nan_pixels} pixels are NaN")
    if summary.out_of_range_pixels:
        found.append(f"{split}: {summary.out_of_range_pixels} pixels outside [0, 1]")
    return found


def duplicate_keys(keys: np.ndarray) -> list[bytes]:
    """Keys that occur more than once, sorted."""
    unique, counts = np.unique(keys, return_counts=True)
    return unique[counts > 1].tolist()


def shared_keys(keys: dict[str, np.ndarray]) -> dict[tuple[str, str], list[bytes]]:
    """For each pair of splits that share keys, the shared keys, sorted."""
    names = list(keys)
    pairs = ((a, b) for i, a in enumerate(names) for b in names[i + 1 :])
    shared = {pair: np.intersect1d(keys[pair[0]], keys[pair[1]]).tolist() for pair in pairs}
    return {pair: found for pair, found in shared.items() if found}


def key_anomalies(
    duplicates: dict[str, list[bytes]], shared: dict[tuple[str, str], list[bytes]]
) -> list[str]:
    """A key twice in a split, or in two splits: an example seen twice, or a leak."""
    found = [
        f"{split}: duplicate keys {_few(k.decode() for k in sorted(keys))}"
        for split, keys in sorted(duplicates.items())
        if keys
    ]
    return found + [
        f"{len(keys)} keys are in both {first} and {second} "
        f"({_few(sorted(k.decode() for k in keys))})"
        for (first, second), keys in shared.items()
        if keys
    ]


def split_anomalies(split: str, records: SplitRecords) -> list[str]:
    """Schema anomalies within one split."""
    examples = records.examples
    summary = SplitSummary.of(examples.images, examples.labels, records.wrong_size)
    duplicates = {split: duplicate_keys(records.all_keys())}
    return summary_anomalies(split, summary) + key_anomalies(duplicates, {})


def cross_split_anomalies(keys: dict[str, np.ndarray]) -> list[str]:
    """A key in two splits means an example was seen in both: a leak."""
    return key_anomalies({}, shared_keys(keys))


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
    return found + cross_split_anomalies({s: r.all_keys() for s, r in records.items()})


def check_split_dir(
    stage: str, directory: str | Path, splits: tuple[str, ...], dtype: np.dtype
) -> dict[str, example.Examples]:
    """Reads and checks the given splits of a record folder; fails on any anomaly.

    Returns:
        The examples per split, for the caller to use (all of the schema's size).

    Raises:
        PipelineError: naming an unreadable file, or the report listing the anomalies.
    """
    records = {split: read_split(directory, split, dtype) for split in splits}
    report(stage, directory, anomalies(records))
    return {split: split_records.examples for split, split_records in records.items()}

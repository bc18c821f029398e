"""Data validation against the schema, in the spirit of TFX's ExampleValidator.

A record that is not an Example, a truncated or corrupted file, a wrong image size, a label
outside the classes, NaN or out-of-range pixels, an empty split, a class missing from a
split, a key twice in a split or in two splits, or statistics that drift between splits
beyond the params' thresholds each become an anomaly. Any anomaly fails the stage, naming a
JSON report that lists them all.

Preprocess finds them inside its Beam pipeline (components.preprocess.checks), ingest with
`check_split_dir`; train and evaluate check each record as tf.data parses it and, if one
fails, `diagnose` names the file. Every read here streams: a chunk of records at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from pipeline import artifacts, codec, outputs, schema, tfrecord
from pipeline.errors import PipelineError
from pipeline.stats import SplitStats


def _few(items: Any, limit: int = 3, total: int | None = None) -> str:
    items = list(items)
    total = len(items) if total is None else total
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f" and {total - limit} more" if total > limit else "")


class SplitSummary(NamedTuple):
    """What the schema checks need to know of a split, in a form that merges.

    Beam's preprocess combines summaries of batches on its workers; ingest and `diagnose`
    summarise the files they read. Either way the anomalies read the same.
    """

    examples: int
    class_counts: np.ndarray  # [classes] int64: examples per in-range label
    outside_labels: int
    outside_values: frozenset[int]
    wrong_size: int  # records whose image has another size
    wrong_size_keys: tuple[bytes, ...]  # the first few, sorted
    nan_pixels: int
    out_of_range_pixels: int

    @classmethod
    def empty(cls, num_classes: int) -> SplitSummary:
        return cls(0, np.zeros(num_classes, np.int64), 0, frozenset(), 0, (), 0, 0)

    @classmethod
    def of(
        cls, images: np.ndarray, labels: np.ndarray, num_classes: int, wrong_size_keys: Any = ()
    ) -> SplitSummary:
        """Summarises examples: images of the schema's size, all labels, other-size keys."""
        outside = (labels < 0) | (labels >= num_classes)
        nan = out_of_range = 0
        # min and max are one fast pass each, and NaN makes both comparisons false: the
        # slower counting passes run only when something is wrong.
        floats = images.dtype.kind == "f"
        if floats and not (images.min(initial=0) >= 0 and images.max(initial=0) <= 1):
            nan = int(np.isnan(images).sum())
            out_of_range = int(((images < 0) | (images > 1)).sum())
        wrong_size_keys = sorted(wrong_size_keys)
        return cls(
            examples=len(labels),
            class_counts=np.bincount(labels[~outside], minlength=num_classes),
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


_READ_CHUNK = 4096  # records decoded at a time: a split is never all in memory


def _fix_hint(path: str) -> str:
    return f"re-run the stage that wrote it (dvc repro --force -s <the stage writing {path}>)"


def corrupt_file(path: str, error: Exception) -> str:
    """What is wrong with a record file that cannot be read to its end."""
    return f"{path} is truncated or corrupted ({error})"


def foreign_record(path: str, error: Exception) -> str:
    """What is wrong with a record file holding a record that is not the schema's."""
    return f"{path} holds a record that is not a {schema.__name__} example ({error})"


def read_file(
    file: str, dtype: np.dtype, data: schema.Schema
) -> Iterator[tuple[codec.Examples, list[bytes]]]:
    """Decodes a file's records a chunk at a time: (examples of the schema's image size,
    keys of the records of another size).

    Raises:
        PipelineError: naming the file, if it is truncated or corrupted, or holds a record
            that is not an Example of the schema.
    """
    try:
        records = tfrecord.read_tfrecords(file)
        while chunk := list(itertools.islice(records, _READ_CHUNK)):
            try:
                yield codec.decode_records(chunk, dtype, data.image_shape)
            except ValueError as error:
                raise PipelineError(f"{foreign_record(file, error)}; {_fix_hint(file)}") from None
    except tfrecord.CorruptRecordsError as error:
        raise PipelineError(f"{corrupt_file(file, error)}; {_fix_hint(file)}") from None


def scan_file(file: str, dtype: np.dtype, data: schema.Schema) -> tuple[SplitSummary, np.ndarray]:
    """A file's summary and all its keys, read a chunk at a time."""
    summary, keys = SplitSummary.empty(data.num_classes), []
    for examples, wrong_size in read_file(file, dtype, data):
        part = SplitSummary.of(examples.images, examples.labels, data.num_classes, wrong_size)
        summary = summary.merge(part)
        keys += [examples.keys, np.array(wrong_size, object)]
    return summary, np.concatenate(keys) if keys else np.zeros(0, object)


def summary_anomalies(
    split: str, summary: SplitSummary, data: schema.Schema, sized_by: str = ""
) -> list[str]:
    """Schema anomalies within one split, from its summary.

    Args:
        sized_by: the param that decides the split's size, if one does, for the anomalies
            of a split too small: an empty one, one missing a class.
    """
    hint = f" ({sized_by})" if sized_by else ""
    if summary.examples + summary.wrong_size == 0:
        return [f"{split}: the split is empty{hint}"]
    found = record_anomalies(split, summary, data)
    missing = np.flatnonzero(summary.class_counts == 0).tolist()
    if missing:
        names = [data.classes[label] for label in missing]  # the user's names, not ids
        found.append(f"{split}: no examples of class {_few(names, 10)}{hint}")
    return found


def record_anomalies(where: str, summary: SplitSummary, data: schema.Schema) -> list[str]:
    """Anomalies of single records (sizes, labels, pixels) among those `summary` counts."""
    found = []
    if summary.wrong_size:
        keys = _few(summary.wrong_size_keys, total=summary.wrong_size)
        found.append(
            f"{where}: {summary.wrong_size} images are not {data.image_shape} (keys {keys})"
        )
    if summary.outside_labels:
        found.append(
            f"{where}: {summary.outside_labels} labels outside 0-{data.num_classes - 1} "
            f"(values {_few(sorted(summary.outside_values))})"
        )
    return found + pixel_anomalies(where, summary)


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


def cross_split_anomalies(keys: dict[str, np.ndarray]) -> list[str]:
    """A key in two splits means an example was seen in both: a leak."""
    return key_anomalies({}, shared_keys(keys))


CHANCE_Z = 4.0  # drift within this many standard errors of none is chance, not drift


def drift_anomalies(
    stats: dict[str, SplitStats], *, max_class_drift: float, max_pixel_mean_drift: float
) -> list[str]:
    """Splits whose class shares (L-infinity) or pixel mean (its furthest channel) drift
    from train's by more than the param allows, or than chance allows if that is more.

    A split of a few hundred examples drifts by chance far more than MNIST's thousands:
    the allowance is CHANCE_Z standard errors of the gap between two samples of these
    sizes (the share's binomial one; the pixel mean's bounded by the pixels' spread), so a
    small folder dataset passes the defaults that hold MNIST's splits to 0.02.
    """
    train = stats[schema.TRAIN]

    def shares(split: SplitStats) -> np.ndarray:
        counts = np.array(split.examples_per_class, dtype=np.float64)
        return counts / max(counts.sum(), 1)

    found = []
    for name, split in ((n, s) for n, s in stats.items() if n != schema.TRAIN):
        spread = np.sqrt(1 / max(split.examples, 1) + 1 / max(train.examples, 1))
        trains = shares(train)
        gaps = [abs(a - b) for a, b in zip(split.pixel_mean, train.pixel_mean, strict=True)]
        checks = (
            ("class shares drift", float(np.abs(shares(split) - trains).max()),
             float(np.sqrt(trains * (1 - trains)).max()), "max_class_drift", max_class_drift),
            ("pixel mean drifts", max(gaps), max(train.pixel_std), "max_pixel_mean_drift",
             max_pixel_mean_drift),
        )  # fmt: skip
        for what, drift, deviation, param, limit in checks:
            allowed = max(limit, CHANCE_Z * spread * deviation)
            if drift > allowed:
                chance = f" and > {allowed:.4f}, chance's at {split.examples} examples"
                found.append(
                    f"{name}: {what} {drift:.4f} from train's "
                    f"(> validate.{param} {limit}{chance if allowed > limit else ''})"
                )
    return found


def fail_on_anomalies(stage: str, directory: str | Path, anomalies: list[str]) -> None:
    """Writes the stage's anomaly report and fails, or clears an old report if none."""
    path = Path(artifacts.ANOMALIES_DIR) / f"{stage}.json"
    if not anomalies:
        path.unlink(missing_ok=True)
        return
    outputs.write_json(path, {"stage": stage, "data": str(directory), "anomalies": anomalies})
    raise PipelineError(
        f"{stage}: {len(anomalies)} data anomal{'y' if len(anomalies) == 1 else 'ies'} in "
        f"{directory}, first: {anomalies[0]}; all listed in {path}"
    )


def check_split_dir(
    stage: str, directory: str | Path, splits: tuple[str, ...], data: schema.Schema
) -> dict[str, int]:
    """Reads and checks the given splits of a folder of raw records against the schema `data`,
    a chunk at a time; fails on any anomaly within a split or across splits (a key in two).

    Returns:
        The number of examples in each split.

    Raises:
        PipelineError: naming an unreadable file, or the report listing the anomalies.
    """
    found, keys, counts = [], {}, {}
    for split in splits:
        summary, split_keys = SplitSummary.empty(data.num_classes), []
        for file in tfrecord.split_files(directory, split):
            file_summary, file_keys = scan_file(file, schema.RAW_DTYPE, data)
            summary, split_keys = summary.merge(file_summary), [*split_keys, file_keys]
        keys[split] = np.concatenate(split_keys)
        counts[split] = summary.examples
        found += summary_anomalies(split, summary, data)
        found += key_anomalies({split: duplicate_keys(keys[split])}, {})
    fail_on_anomalies(stage, directory, found + cross_split_anomalies(keys))
    return counts


def diagnose(
    stage: str, directory: str | Path, splits: tuple[str, ...], data: schema.Schema
) -> None:
    """Looks for what made reading `directory` fail: a file that cannot be read, or records
    that break the schema, each named by its file. For the stages that check records as they
    parse them (train, evaluate): the file is named here, by a second, streaming read.

    Raises:
        PipelineError: for the first unreadable file, or the report of the anomalies found.
    """
    found = []
    for split in splits:
        for file in tfrecord.split_files(directory, split):
            summary, _ = scan_file(file, schema.PROCESSED_DTYPE, data)
            found += record_anomalies(file, summary, data)
    fail_on_anomalies(stage, directory, found)

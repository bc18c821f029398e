"""Data validation rules against the schema, in the spirit of TFX's ExampleValidator.

A wrong image size, a label outside the classes, NaN or out-of-range pixels, an empty split,
a class missing from a split, a key twice in a split or in two splits, or statistics that
drift between splits beyond the params' thresholds each become an anomaly, worded here. Any
anomaly fails the stage, naming a JSON report, in the user's project, that lists them all.

The rules read summaries, never files: preprocess makes them inside its Beam pipeline
(components.preprocess.checks), ingest, train and evaluate by reading record files
(pipeline.scan).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from pipeline import outputs, schema
from pipeline.errors import PipelineError, shown_path
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


def fail_on_anomalies(
    stage: str, directory: str | Path, anomalies: list[str], *, report: Path
) -> None:
    """Writes the stage's anomaly report to `report` and fails, or clears an old report if
    there is no anomaly.

    Raises:
        PipelineError: naming the first anomaly and the report.
    """
    if not anomalies:
        report.unlink(missing_ok=True)
        return
    outputs.write_json(report, {"stage": stage, "data": str(directory), "anomalies": anomalies})
    raise PipelineError(
        f"{stage}: {len(anomalies)} data anomal{'y' if len(anomalies) == 1 else 'ies'} in "
        f"{directory}, first: {anomalies[0]}; all listed in {shown_path(report)}"
    )

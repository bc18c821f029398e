"""Preprocess's data checks and statistics, computed inside its Beam pipeline.

On a cluster they run on the workers, beside the work itself: per-split summaries and
statistics by a combiner, duplicate and cross-split keys by a grouping over key hash
buckets, unreadable files and wrong-size images found by the read, and the written shards
summarised by their writers. Each result is a small typed finding; one last step turns them
into `stats.json` and an `Outcome` (components.preprocess.protocol): the anomalies (the
wording of pipeline.validate), which is all the launching process reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np

from components.preprocess.keys import key_buckets
from components.preprocess.protocol import Outcome, write_outcome
from pipeline import codec, schema, transform, validate
from pipeline.params import PreprocessParams, ValidateParams
from pipeline.stats import SplitStats

_KEY_BUCKETS = 16  # units of parallel work for the key checks


# The findings: what each check tells the last step.
@dataclasses.dataclass(frozen=True)
class Unreadable:
    message: str  # names the file and what is wrong with it


@dataclasses.dataclass(frozen=True)
class WrongSize:
    split: str
    keys: list[bytes]  # of records whose image is not the schema's size


@dataclasses.dataclass(frozen=True)
class Source:
    split: str
    summary: validate.SplitSummary  # of the split's source examples
    stats: SplitStats


@dataclasses.dataclass(frozen=True)
class Written:
    split: str
    summary: validate.SplitSummary  # of the records one shard holds, as written


@dataclasses.dataclass(frozen=True)
class Duplicates:
    split: str
    keys: list[bytes]


@dataclasses.dataclass(frozen=True)
class Shared:
    splits: tuple[str, str]
    keys: list[bytes]


@dataclasses.dataclass(frozen=True)
class Named:
    split: str
    names: list[str]  # of preprocess.exclude's file that examples of one batch answer to
    examples: int  # of the batch that answer to them


Finding = Unreadable | WrongSize | Source | Written | Duplicates | Shared | Named


class SplitStatsFn(beam.CombineFn):
    """A split's schema summary and statistics per channel, in exact integer arithmetic.

    Sums of raw uint8 values are integers, so the result does not depend on the order
    the runner combines batches in: stats.json is byte-stable.
    """

    def __init__(self, data: schema.Schema):
        super().__init__()
        self.data = data

    def create_accumulator(self) -> tuple[validate.SplitSummary, tuple, tuple]:
        channels = self.data.channels
        return validate.SplitSummary.empty(self.data.num_classes), (0,) * channels, (0,) * channels

    def add_input(self, acc: tuple, batch: codec.Examples) -> tuple:
        summary, totals, squares = acc
        squared = batch.images.astype(np.uint16) ** 2  # 255**2 still fits 16 bits
        summed = batch.images.sum(axis=(0, 1, 2), dtype=np.uint64)
        squared_summed = squared.sum(axis=(0, 1, 2), dtype=np.uint64)
        part = validate.SplitSummary.of(batch.images, batch.labels, self.data.num_classes)
        return (
            summary.merge(part),
            tuple(t + int(n) for t, n in zip(totals, summed, strict=True)),
            tuple(s + int(n) for s, n in zip(squares, squared_summed, strict=True)),
        )

    def merge_accumulators(self, accumulators: Iterable[tuple]) -> tuple:
        summary, totals, squares = self.create_accumulator()
        for acc in accumulators:
            summary = summary.merge(acc[0])
            totals = tuple(map(sum, zip(totals, acc[1], strict=True)))
            squares = tuple(map(sum, zip(squares, acc[2], strict=True)))
        return summary, totals, squares

    def extract_output(self, acc: tuple) -> tuple[validate.SplitSummary, SplitStats]:
        summary, totals, squares = acc
        values = max(summary.examples * self.data.height * self.data.width, 1)
        means, stds = [], []
        for total, square in zip(totals, squares, strict=True):
            mean = total / values / transform.MAX_PIXEL  # the mean of the scaled pixels
            variance = max(square / values / transform.MAX_PIXEL**2 - mean * mean, 0.0)
            means.append(round(mean, 6))
            stds.append(round(float(np.sqrt(variance)), 6))
        return summary, SplitStats(
            examples=summary.examples,
            records=summary.examples,  # until the writers say what they wrote
            examples_per_class=tuple(int(n) for n in summary.class_counts),
            pixel_mean=tuple(means),
            pixel_std=tuple(stds),
        )


def source_finding(result: tuple[validate.SplitSummary, SplitStats], split: str) -> Source:
    return Source(split, *result)


def bucket_keys(batch: codec.Examples, split: str) -> Iterator[tuple[int, tuple]]:
    """A batch's keys by hash bucket: equal keys always meet in the same bucket."""
    for bucket, mask in key_buckets(batch.keys, _KEY_BUCKETS):
        yield bucket, (split, batch.keys[mask])


def check_bucket(item: tuple[int, Iterable[tuple[str, np.ndarray]]]) -> Iterator[Finding]:
    """Duplicate keys within a split and keys shared by two splits, in one bucket."""
    _, parts = item
    by_split: dict[str, list[np.ndarray]] = {}
    for split, keys in parts:
        by_split.setdefault(split, []).append(keys)
    keys = {
        split: np.concatenate(by_split[split])
        for split in schema.PROCESSED_SPLITS
        if split in by_split
    }
    for split, split_keys in keys.items():
        if duplicates := validate.duplicate_keys(split_keys):
            yield Duplicates(split, duplicates)
    for pair, shared in validate.shared_keys(keys).items():
        yield Shared(pair, shared)


def key_anomalies(findings: list[Finding]) -> list[str]:
    """The key anomalies from all buckets' findings, in one order."""
    duplicates: dict[str, list[bytes]] = {}
    shared: dict[tuple[str, str], list[bytes]] = {}
    for finding in findings:
        if isinstance(finding, Duplicates):
            duplicates.setdefault(finding.split, []).extend(finding.keys)
        elif isinstance(finding, Shared):
            shared.setdefault(finding.splits, []).extend(finding.keys)
    order = {split: n for n, split in enumerate(schema.PROCESSED_SPLITS)}
    shared = dict(sorted(shared.items(), key=lambda item: [order[s] for s in item[0]]))
    return validate.key_anomalies(duplicates, shared)


def _split_anomalies(
    split: str,
    source: Source,
    findings: list[Finding],
    params: PreprocessParams,
    data: schema.Schema,
) -> tuple[list[str], int]:
    """One split's anomalies, in the source and as written; and the records written."""
    other_size = [
        k for f in findings if isinstance(f, WrongSize) and f.split == split for k in f.keys
    ]
    summary = source.summary.merge(
        validate.SplitSummary.of(
            np.zeros(0, np.uint8), np.zeros(0, np.int64), data.num_classes, other_size
        )
    )
    sized_by = (
        f"preprocess.validation_fraction {params.validation_fraction} decides its size"
        if split == schema.VALIDATION
        else ""
    )
    found = validate.summary_anomalies(split, summary, data, sized_by)
    copies = params.augment_copies
    written = validate.SplitSummary.empty(data.num_classes)
    for finding in findings:
        if isinstance(finding, Written) and finding.split == split:
            written = written.merge(finding.summary)
    expected = summary.examples * (1 + (copies if split == schema.TRAIN else 0))
    if written.examples != expected:
        found.append(f"{split}: {written.examples} of {expected} records written")
    return found + validate.pixel_anomalies(split, written), written.examples


def make_outcome(
    findings: list[Finding],
    *,
    limits: ValidateParams,
    params: PreprocessParams,
    data: schema.Schema,
) -> Outcome:
    """The statistics and every anomaly, from all of the pipeline's findings."""
    sources = {f.split: f for f in findings if isinstance(f, Source)}
    anomalies = sorted(f.message for f in findings if isinstance(f, Unreadable))
    split_stats = {}
    for split in (s for s in schema.PROCESSED_SPLITS if s in sources):
        found, records = _split_anomalies(split, sources[split], findings, params, data)
        anomalies += found
        split_stats[split] = dataclasses.replace(sources[split].stats, records=records)
    anomalies += key_anomalies(findings)
    anomalies += validate.drift_anomalies(
        split_stats,
        max_class_drift=limits.max_class_drift,
        max_pixel_mean_drift=limits.max_pixel_mean_drift,
    )
    named: dict[str, set[str]] = {}
    examples: dict[str, int] = {}
    for finding in findings:
        if isinstance(finding, Named):
            named.setdefault(finding.split, set()).update(finding.names)
            examples[finding.split] = examples.get(finding.split, 0) + finding.examples
    order = [split for split in schema.PROCESSED_SPLITS if split in named]
    in_order = {split: sorted(named[split]) for split in order}
    return Outcome(split_stats, anomalies, in_order, {split: examples[split] for split in order})


class CheckSplits(beam.PTransform):
    """{split: batches} -> `stats.json` and the report, written into `out_dir`.

    Every check's result is a small finding; one list of them all makes the report, in few
    transforms: building a Beam graph costs time too.
    """

    def __init__(
        self,
        *,
        out_dir: str,
        findings: list[beam.PCollection],
        limits: ValidateParams,
        params: PreprocessParams,
        data: schema.Schema,
    ):
        super().__init__()
        self.out_dir, self.findings, self.limits = out_dir, findings, limits
        self.params, self.data = params, data

    def expand(self, splits: dict[str, beam.PCollection]) -> beam.PCollection:
        sources = [
            batches
            | f"Stats{split}" >> beam.CombineGlobally(SplitStatsFn(self.data))
            | f"Name{split}" >> beam.Map(source_finding, split)
            for split, batches in splits.items()
        ]
        keys = (
            [
                batches | f"Keys{split}" >> beam.FlatMap(bucket_keys, split)
                for split, batches in splits.items()
            ]
            | "FlattenKeys" >> beam.Flatten()
            | "GroupByBucket" >> beam.GroupByKey()
            | "CheckBuckets" >> beam.FlatMap(check_bucket)
        )
        return (
            [*sources, keys, *self.findings]
            | "FlattenFindings" >> beam.Flatten()
            | "AllFindings" >> beam.combiners.ToList()
            | "Report"
            >> beam.Map(make_outcome, limits=self.limits, params=self.params, data=self.data)
            | "WriteReport" >> beam.Map(write_outcome, self.out_dir)
        )

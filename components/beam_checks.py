"""Preprocess's data checks and statistics, computed inside its Beam pipeline.

On a cluster they run on the workers, beside the work itself: per-split summaries and
statistics by a combiner, duplicate and cross-split keys by a grouping over key hash
buckets, unreadable files and wrong-size images as side outputs of the read, and the
written shards summarised by their writers. One last step turns these small results into
`stats.json` and a report of anomalies (the wording of pipeline.validate), which is all
the launching process reads. Its files go through Beam's FileSystems.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem

from pipeline import artifacts, example, io, schema, transform, validate
from pipeline.params import ValidateParams

# Kinds of the (kind, payload) findings the checks emit:
SUMMARY = "summary"  # (split, (validate.SplitSummary, statistics))
WRONG_SIZE = "wrong_size"  # (split, keys of records whose image has another size)
UNREADABLE = "unreadable"  # a message naming a file that could not be read
WRITTEN = "written"  # (split, summary of what one shard holds, as written)
KEYS = "keys"  # (DUPLICATES, split, keys) or (SHARED, (split, split), keys)
DUPLICATES, SHARED = "duplicates", "shared"
FINDINGS = "findings"  # the tag of the read step's side output
REPORT_FILE = ".report.json"  # the pipeline's report to the launcher, removed once read
STARTED_FILE = ".started"  # left by the first worker to read: the launcher's sign of life
_KEY_BUCKETS = 16  # units of parallel work for the key checks


class SplitStatsFn(beam.CombineFn):
    """A split's schema summary and statistics, in exact integer arithmetic.

    Sums of raw uint8 values are integers, so the result does not depend on the order
    the runner combines batches in: stats.json is byte-stable.
    """

    def create_accumulator(self) -> tuple[validate.SplitSummary, int, int]:
        return validate.SplitSummary.empty(), 0, 0

    def add_input(self, acc: tuple, batch: Any) -> tuple:
        summary, total, squares = acc
        squared = batch.images.astype(np.uint16) ** 2  # 255**2 still fits 16 bits
        return (
            summary.merge(validate.SplitSummary.of(batch.images, batch.labels)),
            total + int(batch.images.sum(dtype=np.uint64)),
            squares + int(squared.sum(dtype=np.uint64)),
        )

    def merge_accumulators(self, accumulators: Iterable[tuple]) -> tuple:
        summary, total, squares = self.create_accumulator()
        for acc in accumulators:
            summary, total, squares = summary.merge(acc[0]), total + acc[1], squares + acc[2]
        return summary, total, squares

    def extract_output(self, acc: tuple) -> tuple[validate.SplitSummary, dict[str, Any]]:
        summary, total, squares = acc
        values = max(summary.examples * schema.NUM_PIXELS, 1)
        mean = total / values / transform.MAX_PIXEL  # the mean of the scaled pixels
        variance = max(squares / values / transform.MAX_PIXEL**2 - mean * mean, 0.0)
        return summary, {
            "examples": summary.examples,
            "examples_per_class": {str(c): int(n) for c, n in enumerate(summary.class_counts)},
            "pixel_mean": round(mean, 6),
            "pixel_std": round(float(np.sqrt(variance)), 6),
        }


def bucket_keys(batch: Any, split: str) -> Iterator[tuple[int, tuple[str, np.ndarray]]]:
    """A batch's keys by hash bucket: equal keys always meet in the same bucket."""
    for bucket, mask in example.key_buckets(batch.keys, _KEY_BUCKETS):
        yield bucket, (split, batch.keys[mask])


def check_bucket(item: tuple[int, Iterable[tuple[str, np.ndarray]]]) -> Iterator[tuple]:
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
            yield KEYS, (DUPLICATES, split, duplicates)
    for pair, shared in validate.shared_keys(keys).items():
        yield KEYS, (SHARED, pair, shared)


def key_report(findings: list[tuple[str, Any, list[bytes]]]) -> list[str]:
    """(kind, split or pair of splits, keys) findings -> the key anomalies, in one order."""
    duplicates: dict[str, list[bytes]] = {}
    shared: dict[tuple[str, str], list[bytes]] = {}
    for kind, where, keys in findings:
        (duplicates if kind == DUPLICATES else shared).setdefault(where, []).extend(keys)
    order = {split: n for n, split in enumerate(schema.PROCESSED_SPLITS)}
    shared = dict(sorted(shared.items(), key=lambda item: [order[s] for s in item[0]]))
    return validate.key_anomalies(duplicates, shared)


def make_report(findings: list[tuple[str, Any]], *, limits: ValidateParams) -> dict[str, Any]:
    """The statistics and every anomaly, from all the pipeline's (kind, payload) findings."""
    by_kind: dict[str, list] = {}
    for kind, payload in findings:
        by_kind.setdefault(kind, []).append(payload)
    summaries = dict(by_kind.get(SUMMARY, []))
    anomalies = sorted(by_kind.get(UNREADABLE, []))
    stats = {split: split_stats for split, (_, split_stats) in sorted(summaries.items())}
    wrong_size, written = by_kind.get(WRONG_SIZE, []), by_kind.get(WRITTEN, [])
    for split in (s for s in schema.PROCESSED_SPLITS if s in summaries):
        other_size = [key for s, keys in wrong_size if s == split for key in keys]
        summary = summaries[split][0].merge(
            validate.SplitSummary.of(np.zeros(0, np.uint8), np.zeros(0, np.int64), other_size)
        )
        anomalies += validate.summary_anomalies(split, summary)
        out = validate.SplitSummary.empty()
        for s, shard in written:
            out = out.merge(shard) if s == split else out
        if out.examples != summary.examples:
            anomalies.append(f"{split}: {out.examples} of {summary.examples} examples written")
        anomalies += validate.pixel_anomalies(split, out)
    anomalies += key_report(by_kind.get(KEYS, []))
    anomalies += validate.drift_anomalies(
        stats,
        max_class_drift=limits.max_class_drift,
        max_pixel_mean_drift=limits.max_pixel_mean_drift,
    )
    return {"stats": stats, "anomalies": anomalies}


def write_report(report: dict[str, Any], out_dir: str) -> None:
    """Writes `stats.json` (an artifact) and the report the launcher reads."""
    for name, content in ((artifacts.STATS_FILE, report["stats"]), (REPORT_FILE, report)):
        with FileSystems.create(FileSystems.join(out_dir, name)) as file:
            file.write((json.dumps(content, indent=2, sort_keys=True) + "\n").encode())


class CheckSplits(beam.PTransform):
    """{split: batches} -> `stats.json` and the report, written into `out_dir`.

    Every check's result is a small (kind, payload) finding; one list of them all makes
    the report, in few transforms: building a Beam graph costs time too.
    """

    def __init__(self, *, out_dir: str, findings: list[beam.PCollection], limits: ValidateParams):
        super().__init__()
        self.out_dir, self.findings, self.limits = out_dir, findings, limits

    def expand(self, splits: dict[str, beam.PCollection]) -> beam.PCollection:
        summaries = [
            batches
            | f"Stats{split}" >> beam.CombineGlobally(SplitStatsFn())
            | f"Name{split}" >> beam.Map(lambda s, name=split: (SUMMARY, (name, s)))
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
            [*summaries, keys, *self.findings]
            | "FlattenFindings" >> beam.Flatten()
            | "AllFindings" >> beam.combiners.ToList()
            | "Report" >> beam.Map(make_report, limits=self.limits)
            | "WriteReport" >> beam.Map(write_report, self.out_dir)
        )


def mark_started(out_dir: str) -> None:
    """Leaves the sign that a worker has started work (see worker_started)."""
    with FileSystems.create(FileSystems.join(out_dir, STARTED_FILE)):
        pass


def worker_started(out_dir: str) -> bool:
    return FileSystems.exists(FileSystems.join(out_dir, STARTED_FILE))


def read_report(out_dir: str) -> dict[str, Any]:
    """The pipeline's report; it and the started mark are removed from `out_dir`."""
    path = FileSystems.join(out_dir, REPORT_FILE)
    with FileSystems.open(path) as file:
        report = json.loads(file.read())
    started = FileSystems.join(out_dir, STARTED_FILE)
    FileSystems.delete([path, started] if FileSystems.exists(started) else [path])
    return report


@contextlib.contextmanager
def atomic_output_dir(path: str) -> Iterator[str]:
    """pipeline.io.atomic_output for a folder on any Beam filesystem.

    Yields a temp folder beside `path`; on success it replaces `path`, else it is deleted.
    On a local disk that is pipeline.io's rename of the whole folder, so readers see the
    old folder or the new one. An object store (gs://, s3://) has no folders to rename:
    there the old files are deleted and the new ones renamed into place one by one.
    """
    if isinstance(FileSystems.get_filesystem(path), LocalFileSystem):
        with io.atomic_output(path) as temp:
            temp.mkdir()
            yield str(temp)
        return
    temp = f"{path.rstrip('/')}.tmp-{os.getpid()}"
    try:
        yield temp
    except BaseException:
        FileSystems.delete(_files(temp))
        raise
    FileSystems.delete(_files(path))
    new = _files(temp)
    FileSystems.rename(new, [path.rstrip("/") + name[len(temp) :] for name in new])


def _files(folder: str) -> list[str]:
    pattern = FileSystems.join(folder, "**")
    return [m.path for m in FileSystems.match([pattern])[0].metadata_list]

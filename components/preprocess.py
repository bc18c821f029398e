"""Preprocess stage: an Apache Beam pipeline that scales pixels and splits train/validation.

Reads ingest's TFRecords, scales pixels to float32 in [0, 1], sends each train example to
validation when a seeded hash of its key falls below `validation_fraction` (so the split is
deterministic and disjoint, and no validation example ever reaches training), adds
`augment_copies` elastically distorted copies of each training example (components.augment),
and writes train, validation and test TFRecords plus `stats.json` (pipeline.stats). The data
checks run inside the pipeline too (components.beam_checks), so on a cluster they run on the
workers: the launching process reads no record, only the pipeline's small report, and fails
the stage if it lists any anomaly.

Elements are batches of examples processed with numpy, and all file I/O goes through Beam's
FileSystems (local, gs://, s3://, hdfs://). What crosses the shuffle to the writers is the
source data as uint8, whatever `augment_copies` is: the copies are made by the writers, so
memory follows the size of a shard's source examples, not the size of the output.

    python -m components preprocess --raw data/raw --out data/processed
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from components import beam_checks, beam_runner
from components.shards import ShardSpec, WriteSplit, shard_counts
from pipeline import cli, example, io, schema, validate
from pipeline.errors import PipelineError
from pipeline.params import PreprocessParams, ValidateParams
from pipeline.stats import SplitStats

logger = logging.getLogger(__name__)

_READ_BATCH = 4096  # examples per element
BATCHES, FINDINGS = "batches", "findings"  # the read's two kinds of (tag, value) output


def keep(item: tuple[str, Any], tag: str) -> Iterator[Any]:
    """The value of a (tag, value) pair whose tag is `tag`."""
    if item[0] == tag:
        yield item[1]


class SplitByTag(beam.PTransform):
    """(tag, value) pairs -> {tag: values}, by one single-output step per tag.

    This pipeline has no multi-output ParDo (`.with_outputs`), and a test keeps it so:
    Beam 2.77's DaskRunner feeds every tagged output of a ParDo to every consumer of any
    of its outputs, silently (all outputs go into one Dask bag).
    """

    def __init__(self, *tags: str):
        super().__init__()
        self.tags = tags

    def expand(self, pairs: beam.PCollection) -> dict[str, beam.PCollection]:
        return {tag: pairs | f"Keep{tag}" >> beam.FlatMap(keep, tag) for tag in self.tags}


def read_batches(file: fileio.ReadableFile, split: str, out_dir: str) -> Iterator[tuple]:
    """Reads one raw TFRecord file as (BATCHES, decoded batch of up to _READ_BATCH).

    A file that cannot be read to its end, or holds a record that is not an Example, is an
    anomaly, (FINDINGS, finding), not a crash: the report lists it with every other one.
    A TFRecord file has no split points (Beam's own TFRecord source does not split it
    either), so one file is one unit of parallel work: ingest writes one per split.
    """
    beam_checks.mark_started(out_dir)
    path = file.metadata.path
    try:
        with file.open() as stream:
            records = io.read_tfrecords(stream)
            while chunk := list(itertools.islice(records, _READ_BATCH)):
                batch, wrong_size = example.decode_records(chunk, schema.RAW_DTYPE)
                if wrong_size:
                    yield FINDINGS, beam_checks.WrongSize(split, wrong_size)
                yield BATCHES, batch
    except io.CorruptRecordsError as error:
        yield FINDINGS, beam_checks.Unreadable(f"{path} is truncated or corrupted ({error})")
    except ValueError as error:
        message = f"{path} holds a record that is not a {schema.__name__} example ({error})"
        yield FINDINGS, beam_checks.Unreadable(message)


def is_validation(key: bytes, *, fraction: float, seed: int) -> bool:
    """Whether a train example belongs to validation: a seeded hash of its key < fraction."""
    digest = hashlib.sha256(seed.to_bytes(8, "little") + key).digest()
    return int.from_bytes(digest[:8], "little") < fraction * 2**64


def split_batch(
    batch: example.Examples, *, fraction: float, seed: int
) -> Iterator[tuple[str, example.Examples]]:
    """Splits a train batch into its (VALIDATION, part) and (TRAIN, part)."""
    mask = np.array([is_validation(k, fraction=fraction, seed=seed) for k in batch.keys], bool)
    yield schema.VALIDATION, batch.take(mask)
    yield schema.TRAIN, batch.take(~mask)


class SplitValidation(beam.PTransform):
    """{train, test} raw batches -> {train, validation, test}: validation by a hash of keys."""

    def __init__(self, *, validation_fraction: float, seed: int):
        super().__init__()
        self.validation_fraction = validation_fraction
        self.seed = seed

    def expand(self, raw: dict[str, beam.PCollection]) -> dict[str, beam.PCollection]:
        parts = (
            raw[schema.TRAIN]
            | "SplitByKey"
            >> beam.FlatMap(split_batch, fraction=self.validation_fraction, seed=self.seed)
            | SplitByTag(schema.TRAIN, schema.VALIDATION)
        )
        return {**parts, schema.TEST: raw[schema.TEST]}


class ReadRaw(beam.PTransform):
    """Finds and reads each raw split's files: {split: batches}, plus their findings."""

    def __init__(self, raw_dir: str, out_dir: str):
        super().__init__()
        self.raw_dir, self.out_dir = raw_dir, out_dir

    def expand(self, p: beam.Pipeline) -> tuple[dict[str, beam.PCollection], list]:
        batches, findings = {}, []
        for split in schema.RAW_SPLITS:
            pattern = FileSystems.join(self.raw_dir, schema.split_pattern(split))
            read = (
                p
                | f"Find{split}" >> fileio.MatchFiles(pattern)
                | f"Open{split}" >> fileio.ReadMatches()
                | f"Read{split}" >> beam.FlatMap(read_batches, split, self.out_dir)
                | f"Tags{split}" >> SplitByTag(BATCHES, FINDINGS)
            )
            batches[split] = read[BATCHES]
            findings.append(read[FINDINGS])
        return batches, findings


def raw_bytes(raw_dir: str) -> dict[str, int]:
    """The size of each raw split's files.

    Raises:
        PipelineError: for a split with no files.
    """
    sizes = {}
    for split in schema.RAW_SPLITS:
        pattern = FileSystems.join(raw_dir, schema.split_pattern(split))
        files = FileSystems.match([pattern])[0].metadata_list
        if not files:
            raise PipelineError(
                f"no '{split}' records in {raw_dir}; run the upstream stage first (dvc repro)"
            )
        sizes[split] = sum(f.size_in_bytes for f in files)
    return sizes


def build(
    p: beam.Pipeline,
    *,
    raw_dir: str,
    out_dir: str,
    params: PreprocessParams,
    limits: ValidateParams,
    shards: dict[str, int],
) -> None:
    """Adds the preprocess steps to `p`: raw TFRecords to processed ones, stats and checks."""
    raw, read_findings = p | "ReadRaw" >> ReadRaw(raw_dir, out_dir)
    splits = raw | SplitValidation(validation_fraction=params.validation_fraction, seed=params.seed)
    written = []
    for split, batches in splits.items():
        copies = params.augment_copies if split == schema.TRAIN else 0
        spec = ShardSpec(out_dir, split, shards[split], copies, params.seed)
        written.append(batches | f"Write{split}" >> WriteSplit(spec))
    splits | "Check" >> beam_checks.CheckSplits(
        out_dir=out_dir,
        findings=[*read_findings, *written],
        limits=limits,
        copies=params.augment_copies,
    )


@dataclasses.dataclass(frozen=True)
class Preprocessed:
    """What a preprocess run wrote, and how fast the pipeline ran."""

    stats: dict[str, SplitStats]
    seconds: float  # the Beam pipeline's wall time

    @property
    def records_per_s(self) -> float:
        return sum(s.records for s in self.stats.values()) / self.seconds


def preprocess(
    *,
    raw_dir: str | Path,
    out_dir: str | Path,
    params: PreprocessParams,
    limits: ValidateParams,
) -> Preprocessed:
    """Runs the Beam pipeline; replaces `out_dir` atomically when its report is clean.

    Args:
        raw_dir, out_dir: folders on any Beam filesystem.
        params: the `preprocess` section of params.yaml (the runner's settings included).
        limits: the drift thresholds between splits.

    Raises:
        PipelineError: for missing input, bad runner settings, a runner that fails, or any
            anomaly in the input or output records, naming the anomaly report.
    """
    raw_dir, out_dir = str(raw_dir), str(out_dir)
    options = beam_runner.checked(params.runner, params.beam_args)
    shards = shard_counts(raw_bytes(raw_dir), params)
    with io.atomic_output_dir(out_dir) as temp:
        started = time.perf_counter()
        report = _run(options, raw_dir, temp, params, limits, shards)
        seconds = time.perf_counter() - started
        validate.report("preprocess", raw_dir, report.anomalies)
    return Preprocessed(report.stats, seconds)


def _run(
    options: PipelineOptions,
    raw_dir: str,
    out_dir: str,
    params: PreprocessParams,
    limits: ValidateParams,
    shards: dict[str, int],
) -> beam_checks.Report:
    p = beam.Pipeline(options=options)
    build(p, raw_dir=raw_dir, out_dir=out_dir, params=params, limits=limits, shards=shards)
    beam_runner.run(
        p,
        started=lambda: beam_checks.worker_started(out_dir),
        start_timeout=params.worker_start_timeout,
    )
    return beam_checks.read_report(out_dir)


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__.splitlines()[0])
    parser.add_argument("--raw", required=True, help="ingest's output folder")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    beam_runner.quiet_logs()
    params = cli.load(args)
    with cli.stage("preprocess") as record:
        result = preprocess(
            # Workers may run in another working folder: they get absolute paths.
            raw_dir=beam_runner.absolute(args.raw),
            out_dir=beam_runner.absolute(args.out),
            params=params.preprocess,
            limits=params.validate,
        )
        record["beam_records_per_s"] = result.records_per_s
        logger.info(
            "beam: %d records in %.1f s (%.0f/s)",
            sum(s.records for s in result.stats.values()),
            result.seconds,
            result.records_per_s,
        )
        for split, split_stats in result.stats.items():
            logger.info("%s: %d records", split, split_stats.records)

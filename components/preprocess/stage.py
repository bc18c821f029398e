"""Preprocess stage: an Apache Beam pipeline that scales pixels and splits train/validation.

Reads ingest's TFRecords, scales pixels to float32 in [0, 1], sends each train example to
validation when a seeded hash of its key falls below `validation_fraction` (so the split is
deterministic and disjoint, and no validation example ever reaches training), adds
`augment_copies` elastically distorted copies of each training example
(components.preprocess.augment), leaves out of train the examples the file
`preprocess.exclude` names (components.preprocess.exclude), and writes train, validation
and test TFRecords plus `stats.json` (pipeline.stats). The data checks run inside the pipeline too
(components.preprocess.checks), so on a cluster they run on the workers: the launching
process reads no record, only the pipeline's small report, and fails the stage if it lists
any anomaly.

What crosses the shuffle to the writers is the source data as uint8, whatever
`augment_copies` is: the copies are made by the writers, so memory follows the size of a
shard's source examples, not the size of the output. The pipeline runs on any Beam runner
(components.preprocess.runner) and writes the same bytes on each.

    python -m components preprocess --raw data/raw --schema data/schema.json \\
        --out data/processed
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import ClassVar

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from components.preprocess import exclude, protocol, runner, transforms
from components.preprocess.shards import shard_counts
from pipeline import agreement, cli, outputs, run_record, schema, tfrecord, validate
from pipeline.params import PreprocessParams, ValidateParams
from pipeline.stats import SplitStats

logger = logging.getLogger(__package__)


@dataclasses.dataclass(frozen=True)
class Paths(cli.StagePaths):
    stage: ClassVar[str] = "preprocess"

    raw: str = cli.flag("ingest's output folder")
    schema: str = cli.flag("the dataset's schema, as ingest wrote it")
    out: str = cli.flag("output folder")


@dataclasses.dataclass(frozen=True)
class Preprocessed:
    """What a preprocess run wrote, and how fast the pipeline ran."""

    stats: dict[str, SplitStats]
    seconds: float  # the Beam pipeline's wall time
    named: dict[str, int] = dataclasses.field(default_factory=dict)  # examples, per split

    @property
    def records(self) -> int:
        return sum(s.records for s in self.stats.values())

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds


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
            raise tfrecord.no_split_error(split, raw_dir)
        sizes[split] = sum(f.size_in_bytes for f in files)
    return sizes


def preprocess(
    paths: Paths,
    params: PreprocessParams,
    limits: ValidateParams,
    exclusions: exclude.Exclusions = exclude.NOTHING,
) -> Preprocessed:
    """Runs the Beam pipeline from `paths.raw`; replaces `paths.out` atomically when its
    report is clean. Both folders are on any Beam filesystem, absolute where local.

    Args:
        params: the `preprocess` section of params.yaml (the runner's settings included).
        limits: the drift thresholds between splits (its `validate` section).
        exclusions: the examples to leave out of train (read from `params.exclude`).

    Raises:
        PipelineError: for missing input, bad runner settings, a runner that fails, a name
            in `exclusions` that matches no example, or any anomaly in the input or output
            records, naming the anomaly report.
    """
    data = schema.read_schema(paths.schema)
    if Path(paths.raw).is_dir():  # a local folder: on another filesystem, Beam's checks alone
        agreement.check_schema(paths.schema, data, paths.raw, schema.RAW_SPLITS, schema.RAW_DTYPE)
    options = runner.options(params.runner, params.beam_args)
    shards = shard_counts(raw_bytes(paths.raw), params)
    with outputs.atomic_output_dir(paths.out) as temp:
        started = time.perf_counter()
        p = beam.Pipeline(options=options)
        transforms.build(
            p,
            raw_dir=paths.raw,
            out_dir=temp,
            params=params,
            limits=limits,
            shards=shards,
            data=data,
            excluded=exclusions.keys,
        )
        runner.run(
            p, started=protocol.StartMark(temp).left, start_timeout=params.worker_start_timeout
        )
        outcome = protocol.read_outcome(temp)
        seconds = time.perf_counter() - started
        if refusal := exclude.unmatched(exclusions, outcome.named):
            raise refusal
        validate.fail_on_anomalies(
            "preprocess", paths.raw, outcome.anomalies, report=paths.anomalies
        )
    return Preprocessed(outcome.stats, seconds, outcome.named_examples)


def main(argv: list[str] | None = None) -> None:
    paths, params = cli.arguments(Paths, argv, __doc__.splitlines()[0])
    # Workers may run in another working folder: they get absolute paths.
    paths = dataclasses.replace(
        paths, raw=runner.absolute(paths.raw), out=runner.absolute(paths.out)
    )
    runner.quiet_logs()
    exclusions = exclude.read_exclusions(params.preprocess.exclude)
    with run_record.stage("preprocess") as record:
        result = preprocess(paths, params.preprocess, params.validate, exclusions)
        record["beam_records_per_s"] = result.records_per_s
        logger.info(
            "beam: %d records in %.1f s (%.0f/s)",
            result.records,
            result.seconds,
            result.records_per_s,
        )
        for split, split_stats in result.stats.items():
            logger.info("%s: %d records", split, split_stats.records)
        if exclusions.keys:
            _log_excluded(exclusions.file, result.named, params.preprocess.augment_copies)


def _log_excluded(file: str, named: dict[str, int], copies: int) -> None:
    train = named.get(schema.TRAIN, 0)
    with_copies = f", with their {train * copies} augmented copies" if copies else ""
    logger.info("excluded %d training examples named in %s%s", train, file, with_copies)
    if kept := {split: n for split, n in named.items() if split != schema.TRAIN and n}:
        counts = ", ".join(f"{n} in {split}" for split, n in kept.items())
        logger.info("kept %s named in %s: only training is filtered", counts, file)

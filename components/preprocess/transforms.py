"""Preprocess's Beam pipeline: its transforms, and `build`, which wires them together.

Raw TFRecords are read as batches of examples (`ReadRaw`), train is split into train and
validation by a seeded hash of each key (`SplitValidation`), the examples
preprocess.exclude names leave train (components.preprocess.exclude), each split is
written as scaled shards with train's augmented copies (components.preprocess.shards),
and every record is checked on the way (components.preprocess.checks). Elements are
batches of examples processed with numpy; all file I/O goes through Beam's FileSystems.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems

from components.preprocess import checks, protocol
from components.preprocess.exclude import ExcludeFromTrain
from components.preprocess.keys import is_validation
from components.preprocess.shards import ShardSpec, WriteSplit
from pipeline import codec, scan, schema, tfrecord
from pipeline.params import PreprocessParams, ValidateParams

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


class ReadFile(beam.DoFn):
    """Reads one raw TFRecord file as (BATCHES, decoded batch of up to _READ_BATCH).

    A file that cannot be read to its end, or holds a record that is not an Example, is an
    anomaly, (FINDINGS, finding), not a crash: the report lists it with every other one.
    A TFRecord file has no split points (Beam's own TFRecord source does not split it
    either), so one file is one unit of parallel work: ingest writes one per split.
    """

    def __init__(self, split: str, started: protocol.StartMark, shape: tuple[int, int, int]):
        super().__init__()
        self.split, self.started, self.shape = split, started, shape

    def setup(self) -> None:
        self.started.leave()  # a worker is up: the launcher stops waiting for one

    def process(self, file: fileio.ReadableFile) -> Iterator[tuple]:
        path = file.metadata.path
        try:
            with file.open() as stream:
                records = tfrecord.read_tfrecords(stream)
                while chunk := list(itertools.islice(records, _READ_BATCH)):
                    batch, wrong_size = codec.decode_records(chunk, schema.RAW_DTYPE, self.shape)
                    if wrong_size:
                        yield FINDINGS, checks.WrongSize(self.split, wrong_size)
                    yield BATCHES, batch
        except tfrecord.CorruptRecordsError as error:
            yield FINDINGS, checks.Unreadable(scan.corrupt_file(path, error))
        except ValueError as error:
            yield FINDINGS, checks.Unreadable(scan.foreign_record(path, error))


def split_batch(
    batch: codec.Examples, *, fraction: float, seed: int
) -> Iterator[tuple[str, codec.Examples]]:
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

    def __init__(self, raw_dir: str, started: protocol.StartMark, data: schema.Schema):
        super().__init__()
        self.raw_dir, self.started, self.data = raw_dir, started, data

    def expand(self, p: beam.Pipeline) -> tuple[dict[str, beam.PCollection], list]:
        batches, findings = {}, []
        for split in schema.RAW_SPLITS:
            pattern = FileSystems.join(self.raw_dir, schema.split_pattern(split))
            read = (
                p
                | f"Find{split}" >> fileio.MatchFiles(pattern)
                | f"Open{split}" >> fileio.ReadMatches()
                | f"Read{split}" >> beam.ParDo(ReadFile(split, self.started, self.data.image_shape))
                | f"Tags{split}" >> SplitByTag(BATCHES, FINDINGS)
            )
            batches[split] = read[BATCHES]
            findings.append(read[FINDINGS])
        return batches, findings


def build(
    p: beam.Pipeline,
    *,
    raw_dir: str,
    out_dir: str,
    params: PreprocessParams,
    limits: ValidateParams,
    shards: dict[str, int],
    data: schema.Schema,
    excluded: dict[bytes, tuple[str, ...]] | None = None,
) -> None:
    """Adds the preprocess steps to `p`: raw TFRecords to processed ones, stats and checks,
    all following the dataset's schema `data`.

    Args:
        excluded: the record keys preprocess.exclude's file names (exclude.Exclusions.keys),
            left out of train; none: no step looks for them.
    """
    started = protocol.StartMark(out_dir)
    raw, read_findings = p | "ReadRaw" >> ReadRaw(raw_dir, started, data)
    splits = raw | SplitValidation(validation_fraction=params.validation_fraction, seed=params.seed)
    if excluded:
        splits, named = splits | "Exclude" >> ExcludeFromTrain(excluded)
        read_findings = [*read_findings, named]
    written = []
    for split, batches in splits.items():
        copies = params.augment_copies if split == schema.TRAIN else 0
        spec = ShardSpec(out_dir, split, shards[split], data, copies, params.seed)
        written.append(batches | f"Write{split}" >> WriteSplit(spec))
    splits | "Check" >> checks.CheckSplits(
        out_dir=out_dir,
        findings=[*read_findings, *written],
        limits=limits,
        params=params,
        data=data,
    )

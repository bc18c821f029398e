"""Reading record files for the data checks, a chunk of records at a time: a split is never
all in memory.

Ingest checks the splits it wrote with `check_split_dir`; train and evaluate check each
record as tf.data parses it and, if one fails, `diagnose` names the file by a second,
streaming read. Either way the anomalies are pipeline.validate's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pipeline import codec, schema, tfrecord
from pipeline.errors import PipelineError
from pipeline.validate import (
    SplitSummary,
    cross_split_anomalies,
    duplicate_keys,
    fail_on_anomalies,
    key_anomalies,
    record_anomalies,
    summary_anomalies,
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


def check_split_dir(
    stage: str, directory: str | Path, splits: tuple[str, ...], data: schema.Schema, *, report: Path
) -> dict[str, int]:
    """Reads and checks the given splits of a folder of raw records against the schema `data`,
    a chunk at a time; fails on any anomaly within a split or across splits (a key in two),
    listing them in `report`.

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
    fail_on_anomalies(stage, directory, found + cross_split_anomalies(keys), report=report)
    return counts


def diagnose(
    stage: str, directory: str | Path, splits: tuple[str, ...], data: schema.Schema, *, report: Path
) -> None:
    """Looks for what made reading `directory` fail: a file that cannot be read, or records
    that break the schema, each named by its file. For the stages that check records as they
    parse them (train, evaluate): the file is named here, by a second, streaming read; the
    anomalies are listed in `report`.

    Raises:
        PipelineError: for the first unreadable file, or the report of the anomalies found.
    """
    found = []
    for split in splits:
        for file in tfrecord.split_files(directory, split):
            summary, _ = scan_file(file, schema.PROCESSED_DTYPE, data)
            found += record_anomalies(file, summary, data)
    fail_on_anomalies(stage, directory, found, report=report)

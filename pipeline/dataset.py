"""The tf.data input of train and evaluate: a split's TFRecord shards, parsed in batches.

Each record is checked against the schema as it is parsed (its features, image size, label
range, and finite pixels in [0, 1]); a record that fails stops the read with a TensorFlow
error, which `reading` turns into the usual one line naming the file. The whole-split
checks (duplicate keys, leaks, drift) ran in preprocess, which wrote the files.

A training split is streamed: shards interleaved record by record in a fixed order, a
seeded shuffle buffer over records, batched parsing, prefetch, so memory follows the
buffer, not the split. A split small enough (train's `train.cache_mib`) is read once into
memory instead, and each epoch shuffles indices into it: the same seeded shuffle, so the same
batches, at less cost per epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from pipeline import artifacts, scan, schema, stats, tfrecord
from pipeline.errors import PipelineError

_VALUE_BYTES = np.dtype(schema.PROCESSED_DTYPE).itemsize
_READ_BUFFER = 1 << 20  # bytes read ahead per shard
_LOAD_BATCH = 4096  # records parsed at a time when a split is read into memory
# What a damaged or foreign split makes tf.data raise: a record that breaks the schema or a
# check, a file that is corrupted, a split of another length than stats.json says; and
# UnicodeDecodeError, where TensorFlow builds its error message from a hostile record's
# bytes and cannot decode them (docs/upgrading.md).
_READ_ERRORS = (
    tf.errors.InvalidArgumentError,
    tf.errors.DataLossError,
    tf.errors.FailedPreconditionError,
    UnicodeDecodeError,
)
_TF_DECORATIONS = re.compile(r"\{\{[^}]*\}\}|\[Op:\w+\]( name: )?")
_FEATURES = {
    schema.KEY: tf.io.FixedLenFeature([], tf.string),
    schema.IMAGE: tf.io.FixedLenFeature([], tf.string),
    schema.LABEL: tf.io.FixedLenFeature([], tf.int64),
}


@dataclasses.dataclass(frozen=True)
class SplitInput:
    """A split's shard files, how many records they hold, and the schema they follow."""

    files: list[str]
    count: int
    schema: schema.Schema

    @property
    def image_bytes(self) -> int:
        return self.schema.values * _VALUE_BYTES


def split_input(directory: str | Path, split: str, data: schema.Schema) -> SplitInput:
    """A split of preprocess's output, checked before TensorFlow reads it: each file's
    framing is sound (tfrecord.count_records: TensorFlow trusts a record's length header,
    and a hostile one crashes it), and the files hold the records stats.json says.

    Raises:
        PipelineError: naming the file, or stats.json, and the fix.
    """
    said = stats.read_stats(directory).get(split)
    files = tfrecord.split_files(directory, split)
    held = 0
    for file in files:
        try:
            held += tfrecord.count_records(file)
        except tfrecord.CorruptRecordsError as error:
            raise PipelineError(
                f"{scan.corrupt_file(file, error)}; {stats.REDO_PREPROCESS}"
            ) from None
    if said is None or said.records != held:
        says = f"says {said.records}" if said else "has no entry for it"
        raise PipelineError(
            f"{split}: its files hold {held} records and "
            f"{Path(directory) / artifacts.STATS_FILE} {says}; {stats.REDO_PREPROCESS}"
        )
    return SplitInput(files, held, data)


def records(files: list[str]) -> tf.data.Dataset:
    """A split's serialised records: its shards interleaved one record at a time."""
    if len(files) == 1:
        return tf.data.TFRecordDataset(files, buffer_size=_READ_BUFFER)
    return tf.data.Dataset.from_tensor_slices(files).interleave(
        lambda file: tf.data.TFRecordDataset(file, buffer_size=_READ_BUFFER),
        cycle_length=len(files),
        block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def parse_batch(serialised: tf.Tensor, data: schema.Schema) -> tuple[tf.Tensor, tf.Tensor]:
    """A batch of serialised processed records -> (images [N, height, width, channels]
    float32, labels [N]), as the schema `data` has them.

    Raises (when the dataset is read):
        tf.errors.InvalidArgumentError: for a record that breaks the schema.
    """
    features = tf.io.parse_example(serialised, _FEATURES)
    image, label = features[schema.IMAGE], features[schema.LABEL]
    image_bytes = data.values * _VALUE_BYTES
    checks = [
        tf.debugging.assert_equal(tf.strings.length(image), image_bytes, "image size"),
        tf.debugging.assert_non_negative(label, "label below 0"),
        tf.debugging.assert_less(label, tf.constant(data.num_classes, tf.int64), "label"),
    ]
    with tf.control_dependencies(checks):
        pixels = tf.io.decode_raw(image, tf.float32, little_endian=True)
    # One pass checks both: NaN is not within [0, 1] either.
    in_range = tf.reduce_all(tf.abs(pixels - 0.5) <= 0.5)
    with tf.control_dependencies([tf.debugging.Assert(in_range, ["pixels NaN or outside [0, 1]"])]):
        return tf.reshape(pixels, (-1, *data.image_shape)), label


def _counted(split: SplitInput) -> tf.data.Dataset:
    """The records, of known length: Keras needs it, and a split of another length than its
    stats.json says fails the read."""
    return records(split.files).apply(tf.data.experimental.assert_cardinality(split.count))


def _parsed(data: tf.data.Dataset, split: SplitInput) -> tf.data.Dataset:
    return data.map(
        functools.partial(parse_batch, data=split.schema),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def _batched(
    data: tf.data.Dataset,
    split: SplitInput,
    batch_size: int,
    shuffle_buffer: int = 0,
    seed: int | None = None,
) -> tf.data.Dataset:
    """(images, labels) batches of the records `data` (of `split`): in their order, or
    through a seeded shuffle buffer over records, reshuffled each epoch."""
    if shuffle_buffer:
        data = data.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return _parsed(data.batch(batch_size), split).prefetch(tf.data.AUTOTUNE)


def batches(split: SplitInput, *, batch_size: int) -> tf.data.Dataset:
    """(images, labels) batches of a split in file order."""
    return _batched(_counted(split), split, batch_size)


def shuffled_batches(
    split: SplitInput, *, batch_size: int, shuffle_buffer: int, seed: int
) -> tf.data.Dataset:
    """Training batches streamed from the shards: a seeded shuffle buffer over records,
    reshuffled each epoch."""
    return _batched(_counted(split), split, batch_size, shuffle_buffer, seed)


def load(split: SplitInput) -> tuple[np.ndarray, np.ndarray]:
    """A whole split read into memory: (images [count, height, width, channels], labels)."""
    images = np.empty((split.count, *split.schema.image_shape), schema.PROCESSED_DTYPE)
    labels = np.empty(split.count, np.int64)
    start = 0
    for image_batch, label_batch in batches(split, batch_size=_LOAD_BATCH):
        end = start + len(label_batch)
        images[start:end], labels[start:end] = image_batch, label_batch
        start = end
    return images, labels


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    shuffle_buffer: int = 0,
    seed: int | None = None,
) -> tf.data.Dataset:
    """(image, label) batches of a split held in memory.

    The shuffle buffer runs over example indices, not 3 KB records, and each batch is one
    gather; a seeded shuffle yields the same order as the same shuffle over the records
    (shuffled_batches) would.

    Args:
        images: [N, height, width, channels] float32 pixels.
        labels: [N] int64 classes.
        batch_size: examples per batch.
        shuffle_buffer: shuffle buffer size; 0 keeps the split's order.
        seed: shuffle seed, for a deterministic order.
    """
    images, labels = tf.constant(images), tf.constant(labels)
    indices = tf.data.Dataset.range(len(labels))
    if shuffle_buffer:
        indices = indices.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    def gather(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.gather(images, batch), tf.gather(labels, batch)

    return indices.batch(batch_size).map(gather).prefetch(tf.data.AUTOTUNE)


@contextlib.contextmanager
def reading(
    stage: str, directory: str | Path, splits: tuple[str, ...], data: schema.Schema, *, report: Path
) -> Iterator[None]:
    """Turns a failed read of `directory` inside the block into one line naming the file.

    TensorFlow's error says what failed, not where: a second, streaming read with the
    project's own reader finds the file (pipeline.scan.diagnose).

    Args:
        report: where the anomalies found are listed (the stage's `Paths.anomalies`).

    Raises:
        PipelineError: naming the file and the problem, or TensorFlow's first line.
    """
    try:
        yield
    except _READ_ERRORS as error:
        scan.diagnose(stage, directory, splits, data, report=report)
        whole = _TF_DECORATIONS.sub("", getattr(error, "message", str(error))).strip()
        said = whole.splitlines()
        raise PipelineError(
            f"{stage}: reading {directory} failed ({said[0][:300] if said else error!r}); "
            f"{stats.REDO_PREPROCESS}",
            evidence=whole,
        ) from None


def picked(
    split: SplitInput, positions: np.ndarray, imaged: np.ndarray
) -> tuple[dict[int, bytes], dict[int, np.ndarray]]:
    """The keys of the examples at `positions` (in file order, as `batches` yields them)
    and the images of those at `imaged`, read in one streaming pass that keeps only those."""
    keyed, drawn = np.unique(np.asarray(positions, np.int64)), set(np.asarray(imaged).tolist())
    keys: dict[int, bytes] = {}
    images: dict[int, np.ndarray] = {}
    start = 0
    for serialised in _counted(split).batch(_LOAD_BATCH):
        end = start + len(serialised)
        here = keyed[(keyed >= start) & (keyed < end)]
        if len(here):
            chosen = tf.gather(serialised, here - start)
            said = tf.io.parse_example(chosen, {schema.KEY: _FEATURES[schema.KEY]})[schema.KEY]
            pixels, _ = parse_batch(chosen, split.schema)
            for position, key, image in zip(here, said.numpy(), pixels.numpy(), strict=True):
                keys[int(position)] = key
                if int(position) in drawn:
                    images[int(position)] = image
        start = end
    return keys, images


def keys_and_labels(split: SplitInput) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A split's (keys, labels) in file order, a batch at a time, without its images."""
    features = {name: _FEATURES[name] for name in (schema.KEY, schema.LABEL)}
    for serialised in _counted(split).batch(_LOAD_BATCH):
        parsed = tf.io.parse_example(serialised, features)
        yield parsed[schema.KEY].numpy(), parsed[schema.LABEL].numpy()


def selected_batches(
    split: SplitInput,
    keep: np.ndarray,
    *,
    batch_size: int,
    shuffle_buffer: int = 0,
    seed: int | None = None,
) -> tf.data.Dataset:
    """(images, labels) batches of the records at the positions where `keep` is true (in
    file order, as `batches` yields them): in that order, or through a seeded shuffle
    buffer over records, reshuffled each epoch, when `shuffle_buffer` is set."""
    kept = tf.constant(np.asarray(keep, bool))
    data = (
        _counted(split)
        .enumerate()
        .filter(lambda position, _: kept[position])
        .map(lambda _, record: record)
        .apply(tf.data.experimental.assert_cardinality(int(np.count_nonzero(keep))))
    )
    return _batched(data, split, batch_size, shuffle_buffer, seed)

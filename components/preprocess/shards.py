"""Preprocess's writers: a split's examples as scaled TFRecord shards, with augmented copies.

The shuffle to the writers moves each example once, as uint8; each writer holds its shard's
source examples, sorted by key, and streams out the scaled records, then each round of
augmented copies (components.preprocess.augment), a chunk at a time. So memory follows a
shard's share of the source data, and `num_shards: auto` keeps that share near SHARD_BYTES of
output.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from components.preprocess import augment, checks
from components.preprocess.keys import key_buckets
from pipeline import codec, schema, tfrecord, transform, validate
from pipeline.params import PreprocessParams

_WRITE_CHUNK = 256  # examples scaled (and distorted) at a time while writing
SHARD_BYTES = 256 * 2**20  # what `num_shards: auto` aims to write per shard file


def scale_batch(batch: codec.Examples) -> codec.Examples:
    """A batch's pixels through pipeline.transform: uint8 [0, 255] -> float32 [0, 1]."""
    return batch._replace(images=transform.scale_pixels(batch.images))


def shard_batch(batch: codec.Examples, num_shards: int) -> Iterator[tuple[int, codec.Examples]]:
    """Splits a batch by output shard (a hash of the key), still uint8 and unencoded.

    The shuffle to the writers then moves a quarter of the bytes float32 records would.
    """
    for shard, mask in key_buckets(batch.keys, num_shards):
        yield shard, batch.take(mask)


@dataclasses.dataclass(frozen=True)
class ShardSpec:
    """How a split's shards are written."""

    out_dir: str
    split: str
    num_shards: int
    data: schema.Schema  # the records' shape and classes
    copies: int = 0  # augmented copies of each example, made as the shard is written
    seed: int = 0  # salts the copies' random fields


def write_shard(item: tuple[int, Iterable[codec.Examples]], spec: ShardSpec) -> checks.Written:
    """Scales, encodes and writes one shard: its examples sorted by key, then each round of
    augmented copies in the same order. Output bytes never depend on the runner or on how
    it batched, and a shuffle buffer over the file meets as many distinct digits as without
    copies (copies of one digit are a whole round apart).

    Returns:
        A summary of what was written, for the output checks.
    """
    shard, parts = item
    batch = codec.Examples.concatenate(list(parts), schema.RAW_DTYPE, spec.data.image_shape)
    batch = batch.take(np.argsort(batch.keys, kind="stable"))
    path = FileSystems.join(spec.out_dir, schema.split_file(spec.split, shard, spec.num_shards))
    written = [validate.SplitSummary.empty(spec.data.num_classes)]
    with FileSystems.create(path) as out:
        tfrecord.write_tfrecords(out, _encoded(batch, spec, written))
    return checks.Written(spec.split, written[0])


def _encoded(
    batch: codec.Examples, spec: ShardSpec, written: list[validate.SplitSummary]
) -> Iterator[bytes]:
    # A chunk at a time: float32 pixels (or copies) of a whole shard would be several times
    # its uint8 size.
    for copy, start in itertools.product(
        range(spec.copies + 1), range(0, len(batch.keys), _WRITE_CHUNK)
    ):
        chunk = codec.Examples(*(column[start : start + _WRITE_CHUNK] for column in batch))
        if copy:
            chunk = augment.augmented_copy(chunk, copy=copy, seed=spec.seed)
        chunk = scale_batch(chunk)
        part = validate.SplitSummary.of(chunk.images, chunk.labels, spec.data.num_classes)
        written[0] = written[0].merge(part)
        yield from map(codec.encode_example, *chunk)


class WriteSplit(beam.PTransform):
    """Writes a split's uint8 batches as scaled TFRecord shards (see write_shard).

    Returns:
        A `Written` finding per shard.
    """

    def __init__(self, spec: ShardSpec):
        super().__init__()
        self.spec = spec

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        return (
            batches
            | "Shard" >> beam.FlatMap(shard_batch, self.spec.num_shards)
            | "GroupByShard" >> beam.GroupByKey()
            | "Write" >> beam.Map(write_shard, self.spec)
        )


def shard_counts(sizes: dict[str, int], params: PreprocessParams) -> dict[str, int]:
    """Shards per output split: `num_shards`, or with `auto` one per SHARD_BYTES written.

    What a split will write is estimated from the raw sizes: float32 records are about
    four times their uint8 ones, and train's grow with its augmented copies.
    """
    if params.num_shards != "auto":
        return dict.fromkeys(schema.PROCESSED_SPLITS, params.num_shards)
    scaled = np.dtype(schema.PROCESSED_DTYPE).itemsize
    fraction = params.validation_fraction
    estimates = {
        schema.TRAIN: sizes[schema.TRAIN] * (1 - fraction) * (1 + params.augment_copies),
        schema.VALIDATION: sizes[schema.TRAIN] * fraction,
        schema.TEST: sizes[schema.TEST],
    }
    return {split: max(1, math.ceil(n * scaled / SHARD_BYTES)) for split, n in estimates.items()}

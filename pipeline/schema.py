"""The record schema: feature keys, dtypes, shapes and split names, in one place.

Every stage reads and writes `tf.train.Example` records (pipeline.example encodes and
decodes them) with three features:

- `key`: bytes, a stable example id such as b"train-00042" (its split and position in the
  dataset's canonical order), used for the deterministic validation split; an augmented
  copy's key is its original's with a suffix, b"train-00042-aug3";
- `image`: bytes, the 28x28 pixels row-major; uint8 after ingest, little-endian float32 in
  [0, 1] after preprocess (raw bytes parse much faster than a 784-value float_list);
- `label`: int64, the class in [0, NUM_CLASSES).
"""

from __future__ import annotations

import numpy as np

KEY = "key"
IMAGE = "image"
LABEL = "label"

IMAGE_SHAPE = (28, 28, 1)
NUM_PIXELS = 28 * 28
NUM_CLASSES = 10
RAW_DTYPE = np.uint8
PROCESSED_DTYPE = np.float32

TRAIN = "train"
VALIDATION = "validation"
TEST = "test"
RAW_SPLITS = (TRAIN, TEST)
PROCESSED_SPLITS = (TRAIN, VALIDATION, TEST)


def example_key(split: str, index: int) -> bytes:
    """The stable key of the `index`-th example of a source split, as ingest writes it."""
    return f"{split}-{index:05d}".encode()


def copy_key(key: bytes, copy: int) -> bytes:
    """The key of augmented copy number `copy` (from 1) of the example with `key`."""
    return b"%s-aug%d" % (key, copy)


def split_file(split: str, shard: int = 0, num_shards: int = 1) -> str:
    """The TFRecord file name of one shard of a split, as every stage names it."""
    return f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord"


def split_pattern(split: str) -> str:
    """A glob matching every shard file of a split."""
    return f"{split}-*-of-*.tfrecord"

"""The record schema: feature keys, dtypes, shapes and split names, in one place.

Every stage reads and writes `tf.train.Example` records with three features:

- `key`: bytes, a stable example id such as b"train-00042" (its split and position in the
  dataset's canonical order), used for the deterministic validation split;
- `image`: bytes, the 28x28 pixels row-major; uint8 after ingest, little-endian float32 in
  [0, 1] after preprocess (raw bytes parse ~10x faster than a 784-value float_list);
- `label`: int64, the class in [0, NUM_CLASSES).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.example import example_pb2, feature_pb2

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

FEATURE_SPEC = {
    KEY: tf.io.FixedLenFeature([], tf.string),
    IMAGE: tf.io.FixedLenFeature([], tf.string),
    LABEL: tf.io.FixedLenFeature([], tf.int64),
}


def encode_example(key: bytes, image: np.ndarray, label: int) -> bytes:
    """Serialises one example; deterministic, so equal inputs give equal bytes."""
    example = example_pb2.Example(
        features=feature_pb2.Features(
            feature={
                KEY: feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=[key])),
                IMAGE: feature_pb2.Feature(
                    bytes_list=feature_pb2.BytesList(value=[image.tobytes()])
                ),
                LABEL: feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=[int(label)])),
            }
        )
    )
    return example.SerializeToString(deterministic=True)


def parse_batch(serialized: tf.Tensor, dtype: np.dtype) -> dict[str, tf.Tensor]:
    """Parses a batch of serialised examples.

    Args:
        serialized: 1-D string tensor of records.
        dtype: RAW_DTYPE for ingest output, PROCESSED_DTYPE for preprocess output.

    Returns:
        {KEY: [N] string, IMAGE: [N, 28, 28, 1] of `dtype`, LABEL: [N] int64}.
    """
    features = tf.io.parse_example(serialized, FEATURE_SPEC)
    images = tf.io.decode_raw(features[IMAGE], tf.as_dtype(dtype), little_endian=True)
    features[IMAGE] = tf.reshape(images, (-1, *IMAGE_SHAPE))
    return features


def split_file(split: str, shard: int = 0, num_shards: int = 1) -> str:
    """The TFRecord file name of one shard of a split, as every stage names it."""
    return f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord"


def split_pattern(split: str) -> str:
    """A glob matching every shard file of a split."""
    return f"{split}-*-of-*.tfrecord"

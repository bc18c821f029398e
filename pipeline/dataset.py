"""The tf.data input pipeline that feeds Keras from a split already in memory."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    shuffle_buffer: int = 0,
    seed: int | None = None,
) -> tf.data.Dataset:
    """(image, label) batches of a split held in memory.

    The stages read and validate every record of a split before using it (pipeline.validate),
    so the arrays are already there: feeding from them skips a second read and parse of the
    TFRecords. The shuffle buffer runs over example indices, not 3 KB records, and each batch
    is one gather; a seeded shuffle yields the same order as the same shuffle over the
    records would.

    Args:
        images: [N, 28, 28, 1] float32 pixels.
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

"""tf.data input pipelines over the processed TFRecords (train feeds Keras with them)."""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from pipeline import artifacts, io, schema


def split_size(data_dir: str | Path, split: str) -> int:
    """Examples in a processed split, from preprocess's stats.json."""
    stats = json.loads(io.require(Path(data_dir) / artifacts.STATS_FILE, "preprocess").read_text())
    return int(stats[split]["examples"])


def make_dataset(
    data_dir: str | Path,
    split: str,
    *,
    batch_size: int,
    shuffle_buffer: int = 0,
    seed: int | None = None,
) -> tf.data.Dataset:
    """(image, label) batches of a processed split.

    Serialised records are cached and parsed a whole batch at once after `.batch()`:
    per-example parsing is what holds the notebook-style pipeline back.

    Args:
        data_dir: preprocess's output folder.
        split: one of schema.PROCESSED_SPLITS.
        batch_size: examples per batch.
        shuffle_buffer: shuffle buffer size; 0 keeps file order (evaluation).
        seed: shuffle seed, for a deterministic order.
    """
    dataset = tf.data.TFRecordDataset(io.split_files(data_dir, split))
    # Known cardinality lets Keras show progress and size its epochs from the first one.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(split_size(data_dir, split)))
    dataset = dataset.cache()
    if shuffle_buffer:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    def parse(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        features = schema.parse_batch(serialized, schema.PROCESSED_DTYPE)
        return features[schema.IMAGE], features[schema.LABEL]

    dataset = dataset.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)

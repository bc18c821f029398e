"""Records and params for tests: real MNIST slices as raw records, and TensorFlow's own
reading of a split (an oracle independent of the pipeline's reader)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import cli, codec, schema, tfrecord
from pipeline.params import Params, TrainParams, ValidateParams, load_params
from tests.support import ROOT

# The first import of TensorFlow in each pytest-xdist worker, before pytest captures output:
# its start-up lines are held back, as the stages' entry point holds them back.
with cli.quiet_native_startup():
    import tensorflow as tf

# A 200-example validation split drifts from train by chance far more than MNIST's 6000
# do, so tests on small slices switch the drift check off; full-data tests keep it.
LOOSE_LIMITS = ValidateParams(max_class_drift=1.0, max_pixel_mean_drift=1.0)


def default_params() -> Params:
    """The repository's params.yaml, as every stage reads it."""
    return load_params(ROOT / "params.yaml")


def raw_examples(
    mnist: dict[str, np.ndarray], split: str, n: int
) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """The first `n` examples of a real split: keys as ingest makes them, images, labels."""
    keys = [schema.example_key(split, i) for i in range(n)]
    images = mnist[f"{split}_images"][:n].reshape(n, *schema.IMAGE_SHAPE)
    return keys, images, mnist[f"{split}_labels"][:n].astype(np.int64)


def write_records(path: Path, split: str, keys, images, labels) -> None:
    """Writes examples as one shard of `split` under `path`, with TensorFlow's writer."""
    path.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path / schema.split_file(split))) as writer:
        for key, image, label in zip(keys, images, labels, strict=True):
            writer.write(codec.encode_example(key, image, label))


def tf_parse(serialized: tf.Tensor, dtype: np.dtype) -> dict[str, tf.Tensor]:
    """TensorFlow's own parse of a batch of records: the oracle for the pipeline's decoder."""
    spec = {
        schema.KEY: tf.io.FixedLenFeature([], tf.string),
        schema.IMAGE: tf.io.FixedLenFeature([], tf.string),
        schema.LABEL: tf.io.FixedLenFeature([], tf.int64),
    }
    features = tf.io.parse_example(serialized, spec)
    images = tf.io.decode_raw(features[schema.IMAGE], tf.as_dtype(dtype), little_endian=True)
    features[schema.IMAGE] = tf.reshape(images, (-1, *schema.IMAGE_SHAPE))
    return features


def read_split(directory: Path, split: str, dtype: np.dtype) -> dict[str, np.ndarray]:
    """All records of a split as numpy arrays, read by TensorFlow (not the pipeline's reader)."""
    dataset = tf.data.TFRecordDataset(tfrecord.split_files(directory, split)).batch(1 << 22)
    return {name: value.numpy() for name, value in tf_parse(next(iter(dataset)), dtype).items()}


def train_model(folder: Path, data_dir: Path, params: TrainParams) -> Path:
    """Trains with `params` on preprocess's output `data_dir`, seeded as the stage's entry
    seeds it; returns the model file, in `folder` (with DVCLive's folder beside it)."""
    from components.train.stage import Paths, seed_process, train

    seed_process(params.seed)
    paths = Paths(data=str(data_dir), model=str(folder / "model.keras"), live=str(folder / "live"))
    train(paths, params)
    return Path(paths.model)

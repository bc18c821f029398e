"""Records, schemas and params for tests: real MNIST slices as raw records, a second schema
unlike MNIST's, and TensorFlow's own reading of a split (an oracle independent of the
pipeline's reader)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import codec, schema, startup, tfrecord
from pipeline.params import Params, TrainParams, ValidateParams, load_params
from tests.support import ROOT

# The first import of TensorFlow in each pytest-xdist worker, before pytest captures output:
# its start-up lines are held back, as the stages' entry point holds them back.
with startup.quiet_native_startup():
    import tensorflow as tf

# What ingest infers from tfds's MNIST: 28x28 grey digits, each class named by its digit,
# framed as digits. tests/components/ingest/test_stage.py holds the real ingest to it, so
# the tests that take it as given test what the pipeline really runs on.
MNIST = schema.Schema(28, 28, 1, "uint8", tuple("0123456789"), schema.DIGIT)
# A schema unlike MNIST's in every value the code follows: not square, three channels, four
# named classes, resized rather than framed. Code that follows the schema is tested with
# both, so a size, a channel count or a class count taken from MNIST shows.
PETS = schema.Schema(12, 10, 3, "uint8", ("cat", "dog", "fish", "newt"), schema.RESIZE)
SCHEMAS = {"mnist": MNIST, "pets": PETS}  # for pytest.mark.parametrize, with readable ids

# A 200-example validation split drifts from train by chance far more than MNIST's 6000
# do, so tests on small slices switch the drift check off; full-data tests keep it.
LOOSE_LIMITS = ValidateParams(max_class_drift=1.0, max_pixel_mean_drift=1.0)


def default_params() -> Params:
    """The repository's params.yaml, as every stage reads it."""
    return load_params(ROOT / "params.yaml")


def schema_file(folder: Path, data: schema.Schema) -> Path:
    """`data` written as ingest writes a schema, to `folder`/schema.json."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "schema.json"
    schema.write_schema(path, data)
    return path


def raw_examples(
    mnist: dict[str, np.ndarray], split: str, n: int
) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """The first `n` examples of a real split: keys as ingest makes them, images, labels."""
    keys = [schema.example_key(split, i) for i in range(n)]
    images = mnist[f"{split}_images"][:n].reshape(n, *MNIST.image_shape)
    return keys, images, mnist[f"{split}_labels"][:n].astype(np.int64)


def random_examples(
    data: schema.Schema, split: str, n: int, seed: int = 0
) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """`n` examples of random uint8 images of `data`'s shape, every class in turn."""
    images = np.random.default_rng(seed).integers(0, 256, (n, *data.image_shape), dtype=np.uint8)
    keys = [schema.example_key(split, i) for i in range(n)]
    return keys, images, np.arange(n, dtype=np.int64) % data.num_classes


def tinted_examples(
    data: schema.Schema, split: str, n: int, seed: int = 0
) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """`n` examples a small model tells apart in an epoch or two: each class its own
    brightness under uniform noise, every class in turn; each channel a little brighter
    than the one before, so per-channel statistics differ."""
    keys, noise, labels = random_examples(data, split, n, seed)
    step = 160 // data.num_classes
    tint = 16 * np.arange(data.channels, dtype=np.int64)
    images = labels[:, None, None, None] * step + noise % step + tint
    return keys, images.astype(np.uint8), labels


def random_records(data: schema.Schema, split: str, n: int, seed: int = 0) -> list[bytes]:
    """`random_examples` encoded as ingest encodes them."""
    return list(map(codec.encode_example, *random_examples(data, split, n, seed)))


def write_records(path: Path, split: str, keys, images, labels) -> None:
    """Writes examples as one shard of `split` under `path`, with TensorFlow's writer."""
    path.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path / schema.split_file(split))) as writer:
        for key, image, label in zip(keys, images, labels, strict=True):
            writer.write(codec.encode_example(key, image, label))


def tf_parse(
    serialized: tf.Tensor, dtype: np.dtype, data: schema.Schema = MNIST
) -> dict[str, tf.Tensor]:
    """TensorFlow's own parse of a batch of records of images of `data`'s shape: the oracle
    for the pipeline's decoder."""
    spec = {
        schema.KEY: tf.io.FixedLenFeature([], tf.string),
        schema.IMAGE: tf.io.FixedLenFeature([], tf.string),
        schema.LABEL: tf.io.FixedLenFeature([], tf.int64),
    }
    features = tf.io.parse_example(serialized, spec)
    images = tf.io.decode_raw(features[schema.IMAGE], tf.as_dtype(dtype), little_endian=True)
    features[schema.IMAGE] = tf.reshape(images, (-1, *data.image_shape))
    return features


def read_split(
    directory: Path, split: str, dtype: np.dtype, data: schema.Schema = MNIST
) -> dict[str, np.ndarray]:
    """All records of a split as numpy arrays, read by TensorFlow (not the pipeline's reader)."""
    dataset = tf.data.TFRecordDataset(tfrecord.split_files(directory, split)).batch(1 << 22)
    parsed = tf_parse(next(iter(dataset)), dtype, data)
    return {name: value.numpy() for name, value in parsed.items()}


def train_model(folder: Path, data_dir: Path, schema_path: Path, params: TrainParams) -> Path:
    """Trains with `params` on preprocess's output `data_dir` (of the schema at
    `schema_path`), seeded as the stage's entry seeds it; returns the model file, in
    `folder` (with DVCLive's folder beside it)."""
    from components.train.stage import Paths, seed_process, train

    seed_process(params.seed)
    paths = Paths(
        data=str(data_dir),
        schema=str(schema_path),
        model=str(folder / "model.keras"),
        live=str(folder / "live"),
    )
    train(paths, params)
    return Path(paths.model)

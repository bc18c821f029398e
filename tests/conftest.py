"""Shared fixtures: the real-MNIST mirror, slices of it as raw records, and stage outputs."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from pipeline import cli, example, mirror, schema
from pipeline.params import ValidateParams, load_params

# TensorFlow's C++ start-up lines, held back as the stages' entry point does: each
# pytest-xdist worker imports it here, before pytest captures its output.
with cli.quiet_native_startup():
    import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = ROOT.parent / "shared" / "data" / "mnist"
# A 200-example validation split drifts from train by chance far more than MNIST's 6000
# do, so tests on small slices switch the drift check off; full-data tests keep it.
LOOSE_LIMITS = ValidateParams(max_class_drift=1.0, max_pixel_mean_drift=1.0)


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The offline MNIST mirror: $DATA_MIRROR, else ../shared/data/mnist."""
    path = Path(os.environ.get("DATA_MIRROR") or DEFAULT_MIRROR).resolve()
    if not all((path / name).is_file() for name in mirror.FILES.values()):
        message = f"no MNIST mirror at {path}; set DATA_MIRROR to the folder of IDX .gz files"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def broken_mirror(tmp_path: Path, mirror_dir: Path) -> Path:
    """A writable copy of the mirror for a test to damage."""
    copy = tmp_path / "mirror"
    shutil.copytree(mirror_dir, copy)
    for path in copy.iterdir():
        path.chmod(0o644)
    return copy


@pytest.fixture(scope="session")
def mnist(mirror_dir: Path) -> dict[str, np.ndarray]:
    """The four verified IDX arrays of real MNIST."""
    return mirror.read_mirror(mirror_dir)


def write_raw_split(path: Path, split: str, images: np.ndarray, labels: np.ndarray) -> list[bytes]:
    """Writes images/labels as one ingest-format TFRecord file; returns the keys."""
    path.mkdir(parents=True, exist_ok=True)
    keys = [f"{split}-{i:05d}".encode() for i in range(len(labels))]
    with tf.io.TFRecordWriter(str(path / schema.split_file(split))) as writer:
        for key, image, label in zip(keys, images, labels, strict=True):
            writer.write(example.encode_example(key, image.reshape(schema.IMAGE_SHAPE), label))
    return keys


@pytest.fixture(scope="session")
def small_raw_dir(tmp_path_factory: pytest.TempPathFactory, mnist: dict) -> Path:
    """Ingest-format records of a real slice: the first 2000 train and 500 test digits."""
    path = tmp_path_factory.mktemp("small") / "raw"
    write_raw_split(path, schema.TRAIN, mnist["train_images"][:2000], mnist["train_labels"][:2000])
    write_raw_split(path, schema.TEST, mnist["test_images"][:500], mnist["test_labels"][:500])
    return path


@pytest.fixture(scope="session")
def small_processed_dir(tmp_path_factory: pytest.TempPathFactory, small_raw_dir: Path) -> Path:
    from components.preprocess import preprocess

    path = tmp_path_factory.mktemp("small") / "processed"
    preprocess(
        raw_dir=small_raw_dir, out_dir=path, validation_fraction=0.1, seed=42, limits=LOOSE_LIMITS
    )
    return path


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    """The real ingest stage's output for all of MNIST, with every socket connect refused."""
    from components.ingest import ingest

    def refuse(*args, **kwargs):
        raise AssertionError(f"ingest tried the network: {args}")

    path = tmp_path_factory.mktemp("full") / "raw"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        ingest(dataset="mnist", out_dir=path, mirror_dir=mirror_dir)
    return path


@pytest.fixture(scope="session")
def processed_dir(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path) -> Path:
    """The real preprocess stage's output for all of MNIST, default params."""
    from components.preprocess import preprocess

    path = tmp_path_factory.mktemp("full") / "processed"
    limits = load_params(ROOT / "params.yaml").validate  # real data, real thresholds
    preprocess(raw_dir=raw_dir, out_dir=path, validation_fraction=0.1, seed=42, limits=limits)
    return path


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
    from pipeline import io

    dataset = tf.data.TFRecordDataset(io.split_files(directory, split)).batch(100_000)
    return {name: value.numpy() for name, value in tf_parse(next(iter(dataset)), dtype).items()}


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, processed_dir: Path) -> Path:
    """The reference MLP trained 2 epochs on all of MNIST's train split."""
    import dataclasses

    from components.train import train

    path = tmp_path_factory.mktemp("model") / "model.keras"
    params = dataclasses.replace(load_params(ROOT / "params.yaml").train, epochs=2)
    train(data_dir=processed_dir, model_path=path, params=params)
    return path


@pytest.fixture(scope="session")
def serving_dir(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Path:
    """`trained_model` exported as the serving SavedModel."""
    import keras

    from components.export import export_saved_model

    path = tmp_path_factory.mktemp("export") / "serving"
    export_saved_model(keras.models.load_model(trained_model), path)
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The e2e files first: they take longest, and the other files fill the workers beside them.

    pytest-xdist hands each worker a whole file at a time, in this order (--dist loadfile
    --no-loadscope-reorder). The sort is stable: a file's tests keep their order.
    """
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)

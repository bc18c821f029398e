"""Train stage: fit the Keras model on the preprocessed TFRecords.

Builds the model from `train.*` params (default: the reference notebook's MLP), feeds it
with tf.data from the TFRecord shards (pipeline.dataset: a seeded shuffle buffer over
records, each record checked against the schema as it is parsed; streamed, or held in
memory when the splits fit `train.cache_mib`), validates on the validation split each
epoch, logs per-epoch metrics with DVCLive, and saves the model in Keras's native format.
Seeded and deterministic: the same params and data give the same weights.

    python -m components train --data data/processed --model models/model.keras --live dvclive
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import keras
import tensorflow as tf

from components.train.callbacks import EpochLogger, live_callbacks
from components.train.keras_archive import save_model
from components.train.models import build_model, strategy
from pipeline import cli, dataset, outputs, schema, stats, tfrecord
from pipeline.params import TrainParams

logger = logging.getLogger(__package__)

_SPLITS = (schema.TRAIN, schema.VALIDATION)


@dataclasses.dataclass(frozen=True)
class Paths(cli.StagePaths):
    data: str = cli.flag("preprocess's output folder")
    model: str = cli.flag("output .keras model file")
    live: str = cli.flag("output folder for DVCLive metrics")


@dataclasses.dataclass(frozen=True)
class Trained:
    """A training run's model and its steady speed (steps/s after the first epoch)."""

    model: keras.Model
    steps_per_s: float


def seed_process(seed: int) -> None:
    """Seeds Python's, numpy's and TensorFlow's generators and turns on op determinism:
    the same params and data then train the same weights. Process-wide: for entry points."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _inputs(data_dir: str | Path, params: TrainParams) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """The train and validation batches: held in memory if both fit `train.cache_mib`,
    else streamed. Either way the same batches in the same order."""
    counts = {split: s.records for split, s in stats.read_stats(data_dir).items()}
    files = {split: tfrecord.split_files(data_dir, split) for split in _SPLITS}
    cache = sum(counts[s] for s in _SPLITS) * dataset.IMAGE_BYTES <= params.cache_mib * 2**20
    batch, shuffle = params.batch_size, {"shuffle_buffer": params.buffer_size, "seed": params.seed}
    if not cache:
        logger.info("streaming the splits from %s (over train.cache_mib)", data_dir)
        return (
            dataset.shuffled_batches(
                files[schema.TRAIN], count=counts[schema.TRAIN], batch_size=batch, **shuffle
            ),
            dataset.batches(
                files[schema.VALIDATION], count=counts[schema.VALIDATION], batch_size=batch
            ),
        )
    train_split = dataset.load(files[schema.TRAIN], count=counts[schema.TRAIN])
    validation_split = dataset.load(files[schema.VALIDATION], count=counts[schema.VALIDATION])
    return (
        dataset.make_dataset(*train_split, batch_size=batch, **shuffle),
        dataset.make_dataset(*validation_split, batch_size=batch),
    )


def train(paths: Paths, params: TrainParams) -> Trained:
    """Trains a model on `paths.data`'s train split, validating on its validation split.

    Writes the `.keras` model to `paths.model` and DVCLive's per-epoch metrics and plots to
    `paths.live`, replacing both together or neither. Deterministic once the process is
    seeded (seed_process).

    Raises:
        PipelineError: for a record that breaks the schema, naming its file.
    """
    epochs = EpochLogger()
    with dataset.reading("train", paths.data, _SPLITS):
        train_data, validation_data = _inputs(paths.data, params)
        with strategy(params.distribute).scope():
            model = build_model(params, steps_per_epoch=len(train_data))
        # The model is saved before the live folder's temp is renamed into place.
        with live_callbacks(paths.live) as callbacks:
            model.fit(
                train_data,
                validation_data=validation_data,
                epochs=params.epochs,
                callbacks=[*callbacks, epochs],
                verbose=0,  # EpochLogger reports each epoch
                shuffle=False,  # tf.data shuffles, seeded
            )
            with outputs.atomic_output(paths.model) as temp:
                save_model(model, temp)
    return Trained(model, epochs.steady_rate())


def main(argv: list[str] | None = None) -> None:
    paths, params = cli.arguments(Paths, argv, __doc__.splitlines()[0])
    seed_process(params.train.seed)
    with cli.stage("train") as record:
        record["steps_per_s"] = train(paths, params.train).steps_per_s

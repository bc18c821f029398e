"""Train stage: fit the Keras model on the preprocessed TFRecords.

Builds the model from `train.*` params (default: the reference notebook's MLP), feeds it
with tf.data from the TFRecord shards (pipeline.dataset: a seeded shuffle buffer over
records, each record checked against the schema as it is parsed; streamed, or held in
memory when the splits fit `train.cache_mib`), validates on the validation split each
epoch, logs per-epoch metrics with DVCLive, and saves the model in Keras's native format.
The run is `train.epochs` long, or longer if that many epochs hold fewer than
`train.min_steps` gradient steps; one that ends at chance on validation says so in a
warning (components.train.chance). Seeded and deterministic: the same params and data
give the same weights.

    python -m components train --data data/processed --schema data/schema.json \\
        --model models/model.keras --live dvclive
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import keras
import tensorflow as tf

from components.train.callbacks import EpochLogger, StopOnDivergence, live_callbacks
from components.train.chance import warn_if_near_chance
from components.train.keras_archive import save_model
from components.train.models import build_model, planned_epochs, strategy
from pipeline import agreement, cli, dataset, outputs, run_record, schema, stats
from pipeline.errors import PipelineError
from pipeline.params import TrainParams

logger = logging.getLogger(__package__)

_SPLITS = (schema.TRAIN, schema.VALIDATION)


@dataclasses.dataclass(frozen=True)
class Paths(cli.StagePaths):
    stage: ClassVar[str] = "train"

    data: str = cli.flag("preprocess's output folder")
    schema: str = cli.flag("the dataset's schema, as ingest wrote it")
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


def _inputs(
    data_dir: str | Path, data: schema.Schema, params: TrainParams
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """The train and validation batches: held in memory if both fit `train.cache_mib`,
    else streamed. Either way the same batches in the same order."""
    splits = {split: dataset.split_input(data_dir, split, data) for split in _SPLITS}
    held = sum(split.count * split.image_bytes for split in splits.values())
    train_split, validation_split = splits[schema.TRAIN], splits[schema.VALIDATION]
    batch, shuffle = params.batch_size, {"shuffle_buffer": params.buffer_size, "seed": params.seed}
    if held > params.cache_mib * 2**20:
        logger.info("streaming the splits from %s (over train.cache_mib)", data_dir)
        return (
            dataset.shuffled_batches(train_split, batch_size=batch, **shuffle),
            dataset.batches(validation_split, batch_size=batch),
        )
    train_arrays, validation_arrays = dataset.load(train_split), dataset.load(validation_split)
    return (
        dataset.make_dataset(*train_arrays, batch_size=batch, **shuffle),
        dataset.make_dataset(*validation_arrays, batch_size=batch),
    )


@contextlib.contextmanager
def _memory_named(params: TrainParams) -> Iterator[None]:
    """Running out of memory (TensorFlow's, or Python's) becomes the params that cost it."""
    try:
        yield
    except (tf.errors.ResourceExhaustedError, MemoryError):
        raise PipelineError(
            f"train: out of memory with train.hidden_layer_size {params.hidden_layer_size}, "
            f"train.batch_size {params.batch_size} and train.cache_mib {params.cache_mib}; "
            "lower them"
        ) from None


def train(paths: Paths, params: TrainParams) -> Trained:
    """Trains a model on `paths.data`'s train split, validating on its validation split.

    Writes the `.keras` model to `paths.model` and DVCLive's per-epoch metrics and plots to
    `paths.live`, replacing both together or neither. Deterministic once the process is
    seeded (seed_process).

    Raises:
        PipelineError: for a record that breaks the schema, naming its file.
    """
    epochs = EpochLogger()
    data = schema.read_schema(paths.schema)
    agreement.check_schema(paths.schema, data, paths.data, _SPLITS, schema.PROCESSED_DTYPE)
    with (
        _memory_named(params),
        dataset.reading("train", paths.data, _SPLITS, data, report=paths.anomalies),
    ):
        train_data, validation_data = _inputs(paths.data, data, params)
        steps_per_epoch = len(train_data)
        with strategy(params.distribute).scope():
            model = build_model(params, data, steps_per_epoch=steps_per_epoch)
        planned = _planned(params, steps_per_epoch)
        # The model is saved before the live folder's temp is renamed into place.
        with live_callbacks(paths.live) as callbacks:
            history = model.fit(
                train_data,
                validation_data=validation_data,
                epochs=planned,
                callbacks=[StopOnDivergence(params.learning_rate), *callbacks, epochs],
                verbose=0,  # EpochLogger reports each epoch
                shuffle=False,  # tf.data shuffles, seeded
            )
            with outputs.atomic_output(paths.model, exclusive=True) as temp:
                save_model(model, temp)
    validation = stats.read_stats(paths.data)[schema.VALIDATION].examples_per_class
    if accuracies := history.history.get("val_accuracy"):  # none from an empty split
        warn_if_near_chance(accuracies[-1], validation, int(model.optimizer.iterations.numpy()))
    return Trained(model, epochs.steady_rate())


def _planned(params: TrainParams, steps_per_epoch: int) -> int:
    """The epochs to run (models.planned_epochs), saying so when train.min_steps raised them."""
    planned = planned_epochs(params, steps_per_epoch)
    if planned > params.epochs:
        logger.info(
            "train.epochs %d raised to %d: train.min_steps %d at %d steps an epoch",
            params.epochs,
            planned,
            params.min_steps,
            steps_per_epoch,
        )
    return planned


def main(argv: list[str] | None = None) -> None:
    paths, params = cli.arguments(Paths, argv, __doc__.splitlines()[0])
    seed_process(params.train.seed)
    with run_record.stage("train") as record:
        record["steps_per_s"] = train(paths, params.train).steps_per_s

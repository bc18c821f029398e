"""Train stage: fit the Keras model on the preprocessed TFRecords.

Builds the model from `train.*` params (default: the reference notebook's MLP), feeds it
with tf.data (batch, then parse the whole batch at once; cached serialised records;
prefetch), validates on the validation split each epoch, logs per-epoch metrics with
DVCLive, and saves the model in Keras's native format. Seeded and deterministic: the same
params and data give the same weights.

    python -m components.train --data data/processed --model models --live dvclive
"""

from __future__ import annotations

import contextlib
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import keras
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from pipeline import artifacts, cli, io, schema, validate
from pipeline.dataset import make_dataset
from pipeline.params import TrainParams

logger = logging.getLogger(__name__)

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def _mlp(params: TrainParams) -> keras.Model:
    size = params.hidden_layer_size
    return keras.Sequential(
        [
            keras.Input(shape=schema.IMAGE_SHAPE),
            keras.layers.Flatten(),
            keras.layers.Dense(size, activation="relu"),
            keras.layers.Dense(size, activation="tanh"),
            keras.layers.Dense(size, activation="tanh"),
            keras.layers.Dense(schema.NUM_CLASSES, activation="softmax"),
        ],
        name="mlp",
    )


ARCHITECTURES = {"mlp": _mlp}


def build_model(params: TrainParams) -> keras.Model:
    """Builds and compiles the `params.model` architecture (Adam, sparse cross-entropy)."""
    model = ARCHITECTURES[params.model](params)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=params.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def save_model(model: keras.Model, path: Path) -> None:
    """Saves in Keras's native format, byte-stable: equal weights give an equal file.

    Keras stamps the save time into metadata.json and the zip entries; without them a
    re-trained identical model has the same hash, so DVC does not re-run evaluate.
    """
    model.save(path)
    with zipfile.ZipFile(path) as saved:
        entries = [(info.filename, saved.read(info)) for info in saved.infolist()]
    with zipfile.ZipFile(path, "w") as stable:
        for name, content in entries:
            if name == "metadata.json":
                metadata = json.loads(content)
                metadata.pop("date_saved", None)
                content = json.dumps(metadata, sort_keys=True).encode()
            stable.writestr(zipfile.ZipInfo(name, date_time=_ZIP_EPOCH), content)


@contextlib.contextmanager
def _live_callbacks(live_dir: str | Path | None) -> Iterator[list[keras.callbacks.Callback]]:
    """DVCLive's Keras callback writing into a temp folder that replaces `live_dir` at the end."""
    if live_dir is None:
        yield []
        return
    with io.atomic_output(live_dir) as temp:
        # The pipeline's dvc.yaml declares the metrics and plots; DVCLive must not edit it.
        live = Live(dir=str(temp), save_dvc_exp=False, dvcyaml=None)
        yield [DVCLiveCallback(live=live)]


def train(
    *,
    data_dir: str | Path,
    model_dir: str | Path,
    params: TrainParams,
    live_dir: str | Path | None = None,
) -> keras.Model:
    """Trains a model on `data_dir`'s train split, validating on its validation split.

    Args:
        data_dir: preprocess's output folder.
        model_dir: where `model.keras` goes; replaced atomically.
        params: the `train` section of params.yaml.
        live_dir: where DVCLive writes per-epoch metrics and plots; None to skip.

    Returns:
        The trained model.
    """
    validate.check_split_dir(
        "train", data_dir, (schema.TRAIN, schema.VALIDATION), schema.PROCESSED_DTYPE
    )
    keras.utils.set_random_seed(params.seed)
    tf.config.experimental.enable_op_determinism()
    train_data = make_dataset(
        data_dir,
        schema.TRAIN,
        batch_size=params.batch_size,
        shuffle_buffer=params.buffer_size,
        seed=params.seed,
    )
    validation_data = make_dataset(data_dir, schema.VALIDATION, batch_size=params.batch_size)
    model = build_model(params)
    with _live_callbacks(live_dir) as callbacks:
        model.fit(
            train_data,
            validation_data=validation_data,
            epochs=params.epochs,
            callbacks=callbacks,
            verbose=2,
            shuffle=False,  # tf.data shuffles, seeded
        )
    with io.atomic_output(model_dir) as temp:
        temp.mkdir()
        save_model(model, temp / artifacts.MODEL_FILE)
    return model


def main() -> None:
    parser = cli.parser(__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="preprocess's output folder")
    parser.add_argument("--model", required=True, help="output folder for model.keras")
    parser.add_argument("--live", required=True, help="output folder for DVCLive metrics")
    args = parser.parse_args()
    params = cli.load(args).train
    with cli.stage("train"):
        train(data_dir=args.data, model_dir=args.model, params=params, live_dir=args.live)


if __name__ == "__main__":
    cli.run(main)

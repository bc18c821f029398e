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

import contextlib
import dataclasses
import json
import logging
import statistics
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
from dvclive import Live

from components.models import build_model, strategy
from pipeline import artifacts, cli, dataset, io, schema, stats
from pipeline.params import TrainParams

logger = logging.getLogger(__name__)

_SPLITS = (schema.TRAIN, schema.VALIDATION)

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def _renumber_shared_objects(node: Any, ids: dict[int, int]) -> Any:
    """Replaces Keras's `shared_object_id`s (Python `id()`s) by first-seen order numbers."""
    if isinstance(node, dict):
        return {
            key: ids.setdefault(value, len(ids) + 1)
            if key == "shared_object_id"
            else _renumber_shared_objects(value, ids)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared_objects(value, ids) for value in node]
    return node


def save_model(model: keras.Model, path: Path) -> None:
    """Saves in Keras's native format, byte-stable: equal weights give an equal file.

    Keras stamps the save time into metadata.json and the zip entries, and memory
    addresses into config.json; without them a re-trained identical model has the same
    hash, so DVC does not re-run evaluate.
    """
    with tempfile.TemporaryDirectory() as scratch:
        saved_path = Path(scratch) / artifacts.MODEL_FILE  # Keras wants a .keras name
        model.save(saved_path)
        with zipfile.ZipFile(saved_path) as saved:
            entries = {info.filename: saved.read(info) for info in saved.infolist()}
    metadata = json.loads(entries["metadata.json"])
    metadata.pop("date_saved", None)
    entries["metadata.json"] = json.dumps(metadata).encode()
    config = _renumber_shared_objects(json.loads(entries["config.json"]), {})
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as stable:
        for name, content in entries.items():
            stable.writestr(zipfile.ZipInfo(name, date_time=_ZIP_EPOCH), content)


class EpochLogger(keras.callbacks.Callback):
    """Logs each epoch in one line: its metrics, wall time and steps per second.

    Keras's own progress output is off, so an epoch is not reported twice.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self._start
        steps = self.params["steps"]  # batch callbacks come once per execution, not per step
        self.rates.append(steps / seconds)
        logs = logs or {}
        logger.info(
            "epoch %d/%d: train loss %.4f acc %.4f, val loss %.4f acc %.4f, %.1f s (%.0f steps/s)",
            epoch + 1,
            self.params["epochs"],
            *(
                logs.get(name, float("nan"))
                for name in ("loss", "accuracy", "val_loss", "val_accuracy")
            ),
            seconds,
            self.rates[-1],
        )

    def steady_rate(self) -> float:
        """Median steps/s after the first epoch, which pays for tracing and filling caches."""
        later = self.rates[1:] or self.rates
        return statistics.median(later) if later else float("nan")


class LiveMetrics(keras.callbacks.Callback):
    """Logs each epoch's loss and accuracy with DVCLive as `train/*` and `val/*`.

    DVCLive's own Keras callback names the validation split `eval`; `val` is Keras's name
    and keeps `dvc metrics show` within 120 columns.
    """

    def __init__(self, live: Live) -> None:
        super().__init__()
        self.live = live

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name, value in sorted((logs or {}).items()):
            split, metric = ("val", name[4:]) if name.startswith("val_") else ("train", name)
            if metric in ("loss", "accuracy"):
                self.live.log_metric(f"{split}/{metric}", float(value))
        self.live.next_step()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.live.end()
        # DVCLive's summary carries `step`, the last epoch's index: train.epochs - 1, a
        # param already, and a column `dvc metrics show` does without.
        path = Path(self.live.metrics_file)
        summary = {k: v for k, v in json.loads(path.read_text()).items() if k != "step"}
        path.write_text(json.dumps(summary, indent=4) + "\n")


@contextlib.contextmanager
def _live_callbacks(live_dir: str | Path | None) -> Iterator[list[keras.callbacks.Callback]]:
    """DVCLive logging into a temp folder that replaces `live_dir` at the end."""
    if live_dir is None:
        yield []
        return
    with io.atomic_output(live_dir) as temp:
        # The pipeline's dvc.yaml declares the metrics and plots; DVCLive must not edit it.
        live = Live(dir=str(temp), save_dvc_exp=False, dvcyaml=None)
        yield [LiveMetrics(live)]


@dataclasses.dataclass(frozen=True)
class Trained:
    """A training run's model and its steady speed (steps/s after the first epoch)."""

    model: keras.Model
    steps_per_s: float


def _inputs(data_dir: str | Path, params: TrainParams) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """The train and validation batches: held in memory if both fit `train.cache_mib`,
    else streamed. Either way the same batches in the same order."""
    counts = {split: s.records for split, s in stats.read_stats(data_dir).items()}
    files = {split: io.split_files(data_dir, split) for split in _SPLITS}
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


def train(
    *,
    data_dir: str | Path,
    model_path: str | Path,
    params: TrainParams,
    live_dir: str | Path | None = None,
) -> Trained:
    """Trains a model on `data_dir`'s train split, validating on its validation split.

    Args:
        data_dir: preprocess's output folder.
        model_path: where the `.keras` model file goes; replaced atomically.
        params: the `train` section of params.yaml.
        live_dir: where DVCLive writes per-epoch metrics and plots; None to skip.

    Raises:
        PipelineError: for a record that breaks the schema, naming its file.
    """
    keras.utils.set_random_seed(params.seed)
    tf.config.experimental.enable_op_determinism()
    epochs = EpochLogger()
    with dataset.checked("train", data_dir, _SPLITS):
        train_data, validation_data = _inputs(data_dir, params)
        with strategy(params.distribute).scope():
            model = build_model(params, steps_per_epoch=len(train_data))
        # The model and the DVCLive folder are replaced together or not at all: the model
        # is saved before the live folder's temp is renamed into place.
        with _live_callbacks(live_dir) as callbacks:
            model.fit(
                train_data,
                validation_data=validation_data,
                epochs=params.epochs,
                callbacks=[*callbacks, epochs],
                verbose=0,  # EpochLogger reports each epoch
                shuffle=False,  # tf.data shuffles, seeded
            )
            with io.atomic_output(model_path) as temp:
                save_model(model, temp)
    return Trained(model, epochs.steady_rate())


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="preprocess's output folder")
    parser.add_argument("--model", required=True, help="output .keras model file")
    parser.add_argument("--live", required=True, help="output folder for DVCLive metrics")
    args = parser.parse_args(argv)
    params = cli.load(args).train
    with cli.stage("train") as record:
        trained = train(
            data_dir=args.data, model_path=args.model, params=params, live_dir=args.live
        )
        record["steps_per_s"] = trained.steps_per_s

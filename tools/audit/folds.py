"""K folds of the training split, by source example, and the out-of-fold probabilities.

Each example goes to a fold by a seeded hash of its source example's key, so an
augmented copy (`<key>-aug<n>`) is held out with its source, never trained on while the
source is out; the assignment streams (one pass over keys and labels) and depends on the
keys alone. Fold k's model is the configured one (`train.*`), trained on the other folds,
streamed through tf.data with the seed `train.seed + k`, and gives the probabilities of
fold k.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time

import keras
import numpy as np

from components.train.callbacks import StopOnDivergence
from components.train.models import build_model, planned_epochs, strategy
from components.train.stage import seed_process
from pipeline import dataset, labels, schema
from pipeline.errors import PipelineError
from pipeline.params import TrainParams

logger = logging.getLogger("tools.audit")

_BATCH_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class Folds:
    """Each example's fold (by position in file order), and each class's source examples."""

    of: np.ndarray  # [N] fold numbers
    sources_per_class: np.ndarray  # [classes] examples that are no augmented copy


def fold_of(key: bytes, folds: int, seed: int) -> int:
    """The fold of the example with `key`: its source example's, by a hash seeded by `seed`."""
    digest = hashlib.blake2b(
        labels.source_key(key), digest_size=8, salt=seed.to_bytes(16, "little")
    )
    return int.from_bytes(digest.digest(), "little") % folds


def assign(split: dataset.SplitInput, folds: int, seed: int) -> Folds:
    """Assigns every example of `split` to one of `folds` folds.

    Raises:
        PipelineError: for an empty split, or a class with fewer source examples than folds.
    """
    if split.count == 0:
        raise PipelineError("the train split is empty; re-run preprocess")
    of = np.empty(split.count, np.int32)
    sources = np.zeros(split.schema.num_classes, np.int64)
    start = 0
    for keys, given in dataset.keys_and_labels(split):
        of[start : start + len(keys)] = [fold_of(key, folds, seed) for key in keys]
        original = [labels.source_key(key) == key for key in keys]
        sources += np.bincount(given[original], minlength=len(sources))
        start += len(keys)
    _check_folds(folds, sources, split.schema.classes)
    return Folds(of, sources)


def _check_folds(folds: int, sources: np.ndarray, classes: tuple[str, ...]) -> None:
    fewest = int(sources.argmin())
    have, name = int(sources[fewest]), classes[fewest]
    if have < 2:
        raise PipelineError(
            f"class {name!r} has {have} training example{'s' * (have != 1)}; an audit needs 2 "
            "or more of each class"
        )
    if have < folds:
        raise PipelineError(
            f"--folds {folds}: class {name!r} has {have} training examples (copies aside); "
            f"use --folds {have} or fewer"
        )


def out_of_fold(
    split: dataset.SplitInput, folds: Folds, count: int, params: TrainParams
) -> labels.Probabilities:
    """Every example's probabilities from the model of the folds it was not in."""
    gathered = labels.Probabilities(schema.TRAIN, split.count, split.schema.num_classes)
    for fold in range(count):
        model = _train(split, folds.of != fold, fold, count, params)
        held = np.flatnonzero(folds.of == fold)
        start = 0
        for images, given in dataset.selected_batches(
            split, folds.of == fold, batch_size=_BATCH_SIZE
        ):
            end = start + len(given)
            probabilities = model.predict_on_batch(images.numpy())
            gathered.add(given.numpy(), probabilities, at=held[start:end])
            start = end
    return gathered


def _train(
    split: dataset.SplitInput, keep: np.ndarray, fold: int, count: int, params: TrainParams
) -> keras.Model:
    seed = params.seed + fold
    seed_process(seed)
    data = dataset.selected_batches(
        split, keep, batch_size=params.batch_size, shuffle_buffer=params.buffer_size, seed=seed
    )
    steps = len(data)
    epochs = planned_epochs(params, steps)
    logger.info(
        "fold %d/%d: training on %d examples, %d held out, %d epochs, seed %d",
        fold + 1,
        count,
        int(keep.sum()),
        int((~keep).sum()),
        epochs,
        seed,
    )
    with strategy(params.distribute).scope():
        model = build_model(params, split.schema, steps_per_epoch=steps)
    model.fit(
        data,
        epochs=epochs,
        callbacks=[StopOnDivergence(params.learning_rate), _Progress(fold, count)],
        verbose=0,
        shuffle=False,
    )
    return model


class _Progress(keras.callbacks.Callback):
    """A line per epoch, naming the fold: a fold's model has no validation split."""

    def __init__(self, fold: int, count: int) -> None:
        super().__init__()
        self.fold, self.count, self._start = fold, count, 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        logger.info(
            "fold %d/%d, epoch %d/%d: loss %.4g acc %.4f, %.1f s",
            self.fold + 1,
            self.count,
            epoch + 1,
            self.params["epochs"],
            logs.get("loss", float("nan")),
            logs.get("accuracy", float("nan")),
            time.perf_counter() - self._start,
        )

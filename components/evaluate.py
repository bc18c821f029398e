"""Evaluate stage: score the trained model on the test split, bless it, push it if blessed.

TFX's Evaluator and Pusher in one process (a stage of its own would cost a TensorFlow
start-up per experiment): components.blessing compares the model with the thresholds and
with the model serving now; a blessed model becomes the next version under the serving
folder (components.export), unless `evaluate.push` is false. The test split is streamed
through the model a batch at a time (pipeline.dataset), so memory does not grow with it.
Writes, into the reports folder: `metrics.json` (test loss and accuracy, and whether the
model was blessed), `blessing.json` (the verdict, which check decided it, both models'
metrics), `predictions.csv` (actual,predicted per test example: the confusion matrix),
`per_class.csv` (precision, recall, F1 per class) and `misclassified.png` (misclassified
test digits captioned with their true and predicted labels).

    python -m components evaluate --data data/processed --model models/model.keras \\
        --out reports --serving models/serving
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from components import export
from components.blessing import bless_and_push
from pipeline import artifacts, cli, dataset, io, schema, stats, transform

logger = logging.getLogger(__name__)

_BATCH_SIZE = 1000
_SPLITS = (schema.TEST,)
_DIGIT_PX = 84  # 28 x 3
_CAPTION_PX = 16
_EPSILON = 1e-7  # Keras clips probabilities the same way in its cross-entropy


class Scores:
    """Test metrics accumulated batch by batch: a confusion matrix and the summed loss."""

    def __init__(self) -> None:
        n = schema.NUM_CLASSES
        self.confusion = np.zeros((n, n), np.int64)  # [actual, predicted]
        self.loss_sum = 0.0

    def add(self, labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """Counts a batch in; returns its predicted classes."""
        n = schema.NUM_CLASSES
        predicted = probabilities.argmax(axis=1)
        self.confusion += np.bincount(labels * n + predicted, minlength=n * n).reshape(n, n)
        true = np.clip(probabilities[np.arange(len(labels)), labels], _EPSILON, 1.0)
        self.loss_sum += float(-np.log(true.astype(np.float64)).sum())
        return predicted

    def metrics(self) -> dict[str, Any]:
        """{"test": {"loss", "accuracy"}, "per_class": {"0": {"precision", "recall", "f1"}, ...}}"""
        hits = np.diag(self.confusion).astype(np.float64)
        examples = max(int(self.confusion.sum()), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.nan_to_num(hits / self.confusion.sum(axis=0))
            recall = np.nan_to_num(hits / self.confusion.sum(axis=1))
            f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
        return {
            "test": {"loss": self.loss_sum / examples, "accuracy": float(hits.sum() / examples)},
            "per_class": {
                str(c): {
                    "precision": float(precision[c]),
                    "recall": float(recall[c]),
                    "f1": float(f1[c]),
                }
                for c in range(schema.NUM_CLASSES)
            },
        }


def score(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Test metrics of one batch of labels and class probabilities (Scores.metrics)."""
    scores = Scores()
    scores.add(labels, probabilities)
    return scores.metrics()


class Misclassified:
    """The first `limit` misclassified digits, kept as batches stream by."""

    def __init__(self, limit: int = 40) -> None:
        self.limit = limit
        self.digits: list[tuple[np.ndarray, int, int]] = []  # (scaled image, true, predicted)

    def add(self, images: np.ndarray, labels: np.ndarray, predicted: np.ndarray) -> None:
        for index in np.flatnonzero(labels != predicted)[: self.limit - len(self.digits)]:
            self.digits.append((images[index], int(labels[index]), int(predicted[index])))

    def grid(self) -> Image.Image:
        """The digits, enlarged, ten to a row, each captioned "true T / pred P"."""
        columns = 10
        rows = max(1, -(-len(self.digits) // columns))
        cell_w, cell_h = _DIGIT_PX, _DIGIT_PX + _CAPTION_PX
        grid = Image.new("L", (columns * cell_w, rows * cell_h), color=255)
        draw = ImageDraw.Draw(grid)
        for n, (image, label, predicted) in enumerate(self.digits):
            x, y = n % columns * cell_w, n // columns * cell_h
            pixels = transform.unscale_pixels(np.squeeze(image))
            digit = Image.fromarray(255 - pixels).resize((_DIGIT_PX, _DIGIT_PX), Image.NEAREST)
            grid.paste(digit, (x, y))
            draw.text((x + 4, y + _DIGIT_PX + 2), f"true {label} / pred {predicted}")
        return grid


def _score_candidate(model: keras.Model, test: tf.data.Dataset, out_dir: Path) -> dict[str, Any]:
    """Scores the model batch by batch, writing predictions.csv and misclassified.png."""
    scores, wrong = Scores(), Misclassified()
    with (out_dir / artifacts.PREDICTIONS_FILE).open("w", newline="") as file:
        rows = csv.writer(file)
        rows.writerow(["actual", "predicted"])
        for images, labels in test:
            images, labels = images.numpy(), labels.numpy()
            predicted = scores.add(labels, model.predict_on_batch(images))
            rows.writerows(zip(labels, predicted, strict=True))
            wrong.add(images, labels, predicted)
    wrong.grid().save(out_dir / artifacts.MISCLASSIFIED_FILE)
    return scores.metrics()


def _score_version(version: Path, test: tf.data.Dataset) -> dict[str, float]:
    """A pushed version's test metrics, through its `serving_default`: raw pixels in."""
    serve = export.serving_signature(version)
    scores = Scores()
    for images, labels in test:
        pixels = transform.unscale_pixels(images.numpy())
        scores.add(labels.numpy(), serve(images=tf.constant(pixels))["probabilities"].numpy())
    return scores.metrics()["test"]


def evaluate(
    *,
    data_dir: str | Path,
    model_path: str | Path,
    out_dir: str | Path,
    serving_dir: str | Path,
    min_accuracy: float,
    max_accuracy_drop: float,
    push: bool = True,
) -> dict[str, Any]:
    """Scores the model at `model_path` on `data_dir`'s test split, blesses and pushes it.

    Args:
        out_dir: the reports folder, replaced atomically.
        serving_dir: the serving base folder the blessed model is pushed to.
        min_accuracy, max_accuracy_drop: the blessing's value and change thresholds.
        push: whether a blessed model is pushed.

    Returns:
        The blessing (components.blessing.bless_and_push).

    Raises:
        PipelineError: for a missing model, or a record that breaks the schema.
    """
    count = stats.read_stats(data_dir)[schema.TEST].records
    files = io.split_files(data_dir, schema.TEST)

    def test() -> tf.data.Dataset:
        return dataset.batches(files, count=count, batch_size=_BATCH_SIZE)

    model = keras.models.load_model(io.require(model_path, "train"), safe_mode=True)
    with io.atomic_output(out_dir) as temp, dataset.checked("evaluate", data_dir, _SPLITS):
        temp.mkdir()
        metrics = _score_candidate(model, test(), temp)
        logger.info(
            "test accuracy %.4f, loss %.4f", metrics["test"]["accuracy"], metrics["test"]["loss"]
        )
        blessing = bless_and_push(
            model=model,
            model_path=model_path,
            candidate=metrics["test"],
            score_version=lambda version: _score_version(version, test()),
            serving_dir=serving_dir,
            min_accuracy=min_accuracy,
            max_accuracy_drop=max_accuracy_drop,
            push=push,
        )
        _write_reports(temp, metrics, blessing)
    return blessing


def _write_reports(out_dir: Path, metrics: dict[str, Any], blessing: dict[str, Any]) -> None:
    # The headline metrics only; per-class scores are in per_class.csv for the plots.
    headline = {"test": metrics["test"], "blessed": blessing["blessed"]}
    io.write_json(out_dir / artifacts.METRICS_FILE, headline)
    io.write_json(out_dir / artifacts.BLESSING_FILE, blessing)
    with (out_dir / artifacts.PER_CLASS_FILE).open("w", newline="") as file:
        rows = csv.writer(file)
        rows.writerow(["class", "precision", "recall", "f1"])
        rows.writerows(
            [c, f"{s['precision']:.6f}", f"{s['recall']:.6f}", f"{s['f1']:.6f}"]
            for c, s in metrics["per_class"].items()
        )


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="preprocess's output folder")
    parser.add_argument("--model", required=True, help="train's .keras model file")
    parser.add_argument("--out", required=True, help="output folder for the reports")
    parser.add_argument(
        "--serving", required=True, help="serving base folder, relative to the project root"
    )
    args = parser.parse_args(argv)
    params = cli.load(args).evaluate
    with cli.stage("evaluate"):
        evaluate(
            data_dir=args.data,
            model_path=args.model,
            out_dir=args.out,
            serving_dir=cli.project_path(args.serving),
            min_accuracy=params.min_accuracy,
            max_accuracy_drop=params.max_accuracy_drop,
            push=params.push,
        )

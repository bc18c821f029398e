"""Evaluate stage: score the trained model on the test split, bless it, push it if blessed.

TFX's Evaluator and Pusher in one process (a stage of its own cost ~3 s of TensorFlow
start-up per experiment): components.blessing compares the model with the thresholds and
with the model serving now; a blessed model becomes the next version under the serving
folder (components.export). Writes, into the reports folder: `metrics.json` (test loss and
accuracy, and whether the model was blessed), `blessing.json` (the verdict, which check
decided it, both models' metrics), `predictions.csv` (actual,predicted per test example:
the confusion matrix), `per_class.csv` (precision, recall, F1 per class) and
`misclassified.png` (misclassified test digits captioned with their true and predicted
labels).

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
from PIL import Image, ImageDraw

from components import export
from components.blessing import bless_and_push
from pipeline import artifacts, cli, io, schema, transform, validate

logger = logging.getLogger(__name__)

_BATCH_SIZE = 1000
_DIGIT_PX = 84  # 28 x 3
_CAPTION_PX = 16
_EPSILON = 1e-7  # Keras clips probabilities the same way in its cross-entropy


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """[actual, predicted] counts, NUM_CLASSES x NUM_CLASSES."""
    n = schema.NUM_CLASSES
    return np.bincount(labels * n + predicted, minlength=n * n).reshape(n, n)


def score(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Test metrics from the true labels and the model's class probabilities.

    Returns:
        {"test": {"loss", "accuracy"}, "per_class": {"0": {"precision", "recall", "f1"}, ...}}
    """
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted)
    hits = np.diag(matrix).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(hits / matrix.sum(axis=0))
        recall = np.nan_to_num(hits / matrix.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    true_probability = np.clip(probabilities[np.arange(len(labels)), labels], _EPSILON, 1.0)
    return {
        "test": {
            "loss": float(-np.log(true_probability.astype(np.float64)).mean()),
            "accuracy": float(hits.sum() / len(labels)),
        },
        "per_class": {
            str(c): {
                "precision": float(precision[c]),
                "recall": float(recall[c]),
                "f1": float(f1[c]),
            }
            for c in range(schema.NUM_CLASSES)
        },
    }


def misclassified_grid(
    images: np.ndarray, labels: np.ndarray, predicted: np.ndarray, *, limit: int = 40
) -> Image.Image:
    """The first `limit` misclassified digits, enlarged, each captioned "true T / pred P"."""
    wrong = np.flatnonzero(labels != predicted)[:limit]
    columns = 10
    rows = max(1, -(-len(wrong) // columns))
    cell_w, cell_h = _DIGIT_PX, _DIGIT_PX + _CAPTION_PX
    grid = Image.new("L", (columns * cell_w, rows * cell_h), color=255)
    draw = ImageDraw.Draw(grid)
    for n, index in enumerate(wrong):
        x, y = n % columns * cell_w, n // columns * cell_h
        pixels = transform.unscale_pixels(np.squeeze(images[index]))
        digit = Image.fromarray(255 - pixels).resize((_DIGIT_PX, _DIGIT_PX), Image.NEAREST)
        grid.paste(digit, (x, y))
        draw.text((x + 4, y + _DIGIT_PX + 2), f"true {labels[index]} / pred {predicted[index]}")
    return grid


def _write_csv(path: Path, header: list[str], rows: Any) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def evaluate(
    *,
    data_dir: str | Path,
    model_path: str | Path,
    out_dir: str | Path,
    serving_dir: str | Path,
    min_accuracy: float,
    max_accuracy_drop: float,
) -> dict[str, Any]:
    """Scores the model at `model_path` on `data_dir`'s test split, blesses and pushes it.

    Args:
        out_dir: the reports folder, replaced atomically.
        serving_dir: the serving base folder the blessed model is pushed to.
        min_accuracy, max_accuracy_drop: the blessing's value and change thresholds.

    Returns:
        The blessing (components.blessing.bless_and_push).
    """
    # Validation reads the whole split anyway: score those arrays rather than read it twice.
    split = (schema.TEST,)
    test = validate.check_split_dir("evaluate", data_dir, split, schema.PROCESSED_DTYPE)
    images, labels = test[schema.TEST].images, test[schema.TEST].labels
    model = keras.models.load_model(io.require(model_path, "train"), safe_mode=True)
    probabilities = model.predict(images, batch_size=_BATCH_SIZE, verbose=0)
    metrics = score(labels, probabilities)
    logger.info(
        "test accuracy %.4f, loss %.4f", metrics["test"]["accuracy"], metrics["test"]["loss"]
    )
    pixels = transform.unscale_pixels(images)  # what serving takes: raw pixels
    blessing = bless_and_push(
        model=model,
        model_path=model_path,
        candidate=metrics["test"],
        score_version=lambda version: score(labels, export.serve_probabilities(version, pixels))[
            "test"
        ],
        serving_dir=serving_dir,
        min_accuracy=min_accuracy,
        max_accuracy_drop=max_accuracy_drop,
    )
    _write_reports(out_dir, images, labels, probabilities, metrics, blessing)
    return blessing


def _write_reports(
    out_dir: str | Path,
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    metrics: dict[str, Any],
    blessing: dict[str, Any],
) -> None:
    predicted = probabilities.argmax(axis=1)
    with io.atomic_output(out_dir) as temp:
        temp.mkdir()
        # The headline metrics only; per-class scores are in per_class.csv for the plots.
        headline = {"test": metrics["test"], "blessed": blessing["blessed"]}
        io.write_json(temp / artifacts.METRICS_FILE, headline)
        io.write_json(temp / artifacts.BLESSING_FILE, blessing)
        misclassified_grid(images, labels, predicted).save(temp / artifacts.MISCLASSIFIED_FILE)
        _write_csv(
            temp / artifacts.PREDICTIONS_FILE,
            ["actual", "predicted"],
            zip(labels, predicted, strict=True),
        )
        _write_csv(
            temp / artifacts.PER_CLASS_FILE,
            ["class", "precision", "recall", "f1"],
            (
                [c, f"{s['precision']:.6f}", f"{s['recall']:.6f}", f"{s['f1']:.6f}"]
                for c, s in metrics["per_class"].items()
            ),
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
        )

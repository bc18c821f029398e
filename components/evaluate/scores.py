"""What evaluate measures on the test split, batch by batch as the split streams past: a
confusion matrix and the summed loss (so accuracy, loss and per-class scores), and the
first misclassified digits, drawn captioned in a grid."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from pipeline import schema, transform
from pipeline.reports import ClassScores, Score

_DIGIT_PX = 84  # 28 x 3
_CAPTION_PX = 16
_EPSILON = 1e-7  # Keras clips probabilities the same way in its cross-entropy


class Scorer:
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

    def score(self) -> Score:
        """The loss and accuracy over every example counted in."""
        examples = max(int(self.confusion.sum()), 1)
        accuracy = float(np.trace(self.confusion) / examples)
        return Score(accuracy=accuracy, loss=self.loss_sum / examples)

    def per_class(self) -> dict[str, ClassScores]:
        """Each class's precision, recall, F1 and errors, by class id."""
        hits = np.diag(self.confusion)
        actual, predicted = self.confusion.sum(axis=1), self.confusion.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.nan_to_num(hits / predicted)
            recall = np.nan_to_num(hits / actual)
            f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
        return {
            str(c): ClassScores(
                float(precision[c]),
                float(recall[c]),
                float(f1[c]),
                missed=int(actual[c] - hits[c]),
                false_alarms=int(predicted[c] - hits[c]),
            )
            for c in range(schema.NUM_CLASSES)
        }


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

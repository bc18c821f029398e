"""What evaluate measures on the test split, batch by batch as the split streams past: a
confusion matrix and the summed loss (so accuracy, loss and per-class scores), and the
first misclassified images, drawn captioned with their class names in a grid."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from pipeline import schema, transform
from pipeline.reports import ClassScores, Score

_CELL_PX = 84  # MNIST's 28 pixels, 3 times
_CAPTION_PX = 16
_EPSILON = 1e-7  # Keras clips probabilities the same way in its cross-entropy


class Scorer:
    """Test metrics accumulated batch by batch: a confusion matrix and the summed loss."""

    def __init__(self, num_classes: int) -> None:
        n = num_classes
        self.confusion = np.zeros((n, n), np.int64)  # [actual, predicted]
        self.loss_sum = 0.0

    def add(self, labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """Counts a batch in; returns its predicted classes."""
        n = len(self.confusion)
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

    def per_class(self, names: tuple[str, ...]) -> dict[str, ClassScores]:
        """Each class's precision, recall, F1 and errors, by class name."""
        hits = np.diag(self.confusion)
        actual, predicted = self.confusion.sum(axis=1), self.confusion.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.nan_to_num(hits / predicted)
            recall = np.nan_to_num(hits / actual)
            f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
        return {
            names[c]: ClassScores(
                float(precision[c]),
                float(recall[c]),
                float(f1[c]),
                missed=int(actual[c] - hits[c]),
                false_alarms=int(predicted[c] - hits[c]),
            )
            for c in range(len(names))
        }


class Misclassified:
    """The first `limit` misclassified images, kept as batches stream by."""

    nothing_text = "no test example was misclassified"

    def __init__(self, data: schema.Schema, limit: int = 40) -> None:
        self.data, self.limit = data, limit
        self.images: list[tuple[np.ndarray, int, int]] = []  # (scaled image, true, predicted)

    def add(self, images: np.ndarray, labels: np.ndarray, predicted: np.ndarray) -> None:
        for index in np.flatnonzero(labels != predicted)[: self.limit - len(self.images)]:
            self.images.append((images[index], int(labels[index]), int(predicted[index])))

    def grid(self) -> Image.Image:
        """The images, enlarged, ten to a row, each captioned "true T / pred P" (on two
        lines where class names are too long for one). Grey digits are drawn dark on
        white, as on paper. With none misclassified, the strip says so rather than stay
        blank."""
        captions = [self._caption(label, predicted) for _, label, predicted in self.images]
        lines = max((len(caption) for caption in captions), default=1)
        cell_height = _CELL_PX + lines * _CAPTION_PX
        columns, rows = 10, max(1, -(-len(self.images) // 10))
        mode = "L" if self.data.channels == 1 else "RGB"
        grid = Image.new(mode, (columns * _CELL_PX, rows * cell_height), "white")
        draw = ImageDraw.Draw(grid)
        if not self.images:
            draw.text((4, 4), self.nothing_text, "black")
        for n, ((image, _, _), caption) in enumerate(zip(self.images, captions, strict=True)):
            x, y = n % columns * _CELL_PX, n // columns * cell_height
            grid.paste(self._enlarged(image), (x, y))
            for line, text in enumerate(caption):
                draw.text((x + 4, y + _CELL_PX + 2 + line * _CAPTION_PX), text, "black")
        return grid

    def _caption(self, label: int, predicted: int) -> list[str]:
        true, pred = (short_name(self.data.classes[c]) for c in (label, predicted))
        one_line = f"true {true} / pred {pred}"
        return [one_line] if fits_cell(one_line) else [f"true {true}", f"pred {pred}"]

    def _enlarged(self, image: np.ndarray) -> Image.Image:
        pixels = transform.unscale_pixels(image)
        if self.data.channels == 1:
            pixels = pixels[..., 0]
            pixels = 255 - pixels if self.data.framing == schema.DIGIT else pixels
        scale = _CELL_PX / max(self.data.height, self.data.width)
        size = (round(self.data.width * scale), round(self.data.height * scale))
        return Image.fromarray(pixels).resize(size, Image.NEAREST)


def fits_cell(text: str) -> bool:
    """Whether a caption line fits under an image."""
    return ImageDraw.Draw(Image.new("L", (1, 1))).textlength(text) <= _CELL_PX - 6


def short_name(name: str) -> str:
    """A class name short enough for a caption under an 84-pixel image."""
    return name if len(name) <= 10 else name[:9] + "."

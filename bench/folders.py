"""Folder datasets for the tests and the benches, written from data the project did not
make: real MNIST as PNG files, scikit-learn's 8x8 digits, and MNIST digits in colour under
class names.

Every writer is deterministic (fixed rules on indices, a seeded generator for colours), so
the same packages write byte-identical folders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pipeline import schema

COLOUR_CLASSES = ("zero", "one", "two", "three")  # the colour dataset's names of digits 0-3


def save_png(image: np.ndarray, path: Path) -> None:
    """Writes uint8 [H, W] (grey) or [H, W, 3] (RGB) as a PNG file, folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image, "L" if image.ndim == 2 else "RGB").save(path, format="PNG")


def mnist_folder(
    mnist: dict[str, np.ndarray],
    root: Path,
    counts: dict[str, int],
    labels: dict[str, np.ndarray] | None = None,
) -> Path:
    """The first `counts[split]` images of each real MNIST split as PNG files, each named by
    the key ingest gives it on the IDX route: <root>/train/7/train-00042.png. Each is filed
    under its class in `labels[split]` if given (labels flipped on purpose), else MNIST's."""
    for split, n in counts.items():
        images = mnist[f"{split}_images"]
        labels_of = (labels or {}).get(split, mnist[f"{split}_labels"])
        for index in range(n):
            key = schema.example_key(split, index).decode()
            save_png(images[index], root / split / str(labels_of[index]) / f"{key}.png")
    return root


def digits_folder(root: Path) -> Path:
    """scikit-learn's 1,797 8x8 handwritten digits (values 0-16, scaled to 0-255); every
    fifth image of each class is test: 1,433 train and 364 test images."""
    from sklearn.datasets import load_digits

    found = load_digits()
    images = np.round(found.images * (255 / 16)).astype(np.uint8)
    seen = np.zeros(10, int)
    for index, (image, label) in enumerate(zip(images, found.target, strict=True)):
        split = schema.TEST if seen[label] % 5 == 0 else schema.TRAIN
        seen[label] += 1
        save_png(image, root / split / str(label) / f"{index:04d}.png")
    return root


def colour_folder(mnist: dict[str, np.ndarray], root: Path, per_class: int) -> Path:
    """MNIST's digits 0-3 in colour, as classes `COLOUR_CLASSES`: the ink in a random
    bright colour on random dark paper, so colour says nothing of the class; the first
    `per_class` of each class in each split."""
    rng = np.random.default_rng(20240601)
    for split in schema.RAW_SPLITS:
        images, labels = mnist[f"{split}_images"], mnist[f"{split}_labels"]
        for label, name in enumerate(COLOUR_CLASSES):
            for index in np.flatnonzero(labels == label)[:per_class]:
                ink, paper = rng.integers(96, 256, 3), rng.integers(0, 64, 3)
                alpha = images[index][..., None] / 255.0
                rgb = np.round(paper * (1 - alpha) + ink * alpha).astype(np.uint8)
                save_png(rgb, root / split / name / f"{index:05d}.png")
    return root

"""A small folder dataset the project draws itself: circles, squares and triangles.

What a user with a few hundred images per class brings: 32x32 colour images of three
shapes, each in a random colour on a random background (at least `_MIN_CONTRAST` apart, so
the shape can be seen), at a random position and a random size of 10 to 21 pixels. Drawn
with Pillow from a seeded generator: a seed gives the same files, byte for byte. The
small-folder recipe in docs/own-data.md is measured on such folders (bench.own_data) and
tested on one (tests/e2e/test_small_folder.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")  # the class folders
SIDE = 32  # pixels: every image is SIDE x SIDE, RGB
SIZES = (10, 21)  # the smallest and largest shape, pixels a side
COUNTS = {"train": 300, "test": 100}  # images per class in each split
_MIN_CONTRAST = 100.0  # Euclidean distance in RGB between a shape and its background


def _colours(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    while True:
        ink, paper = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if np.linalg.norm(ink - paper) >= _MIN_CONTRAST:
            return tuple(int(v) for v in ink), tuple(int(v) for v in paper)


def draw_shape(shape: str, rng: np.random.Generator) -> Image.Image:
    """One SIDE x SIDE RGB image of `shape`, its colours, size and place drawn from `rng`."""
    ink, paper = _colours(rng)
    size = int(rng.integers(SIZES[0], SIZES[1] + 1))
    left, top = (int(v) for v in rng.integers(0, SIDE - size + 1, 2))
    box = (left, top, left + size - 1, top + size - 1)
    image = Image.new("RGB", (SIDE, SIDE), paper)
    draw = ImageDraw.Draw(image)
    if shape == "circle":
        draw.ellipse(box, fill=ink)
    elif shape == "square":
        draw.rectangle(box, fill=ink)
    else:  # a triangle standing on its base
        draw.polygon([(left, box[3]), (box[2], box[3]), (left + (size - 1) / 2, top)], fill=ink)
    return image


def shapes_folder(root: Path, seed: int, counts: dict[str, int] = COUNTS) -> Path:
    """Writes <root>/<split>/<shape>/<index>.png, `counts[split]` images of each shape.

    Args:
        root: the folder to write (data.folder's layout); made if missing.
        seed: the generator's seed: the same seed writes the same files.
        counts: images per class in each split (train and test).
    """
    rng = np.random.default_rng(seed)
    for split, per_class in counts.items():
        for shape in SHAPES:
            folder = root / split / shape
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(per_class):
                draw_shape(shape, rng).save(folder / f"{index:04d}.png", format="PNG")
    return root

"""Image files as the served model takes them, for mnist-predict: read safely, then framed
as MNIST's digits were (a schema of DIGIT framing: the MNIST family) or resized to the
schema's size and channels exactly as ingest resized the training images (RESIZE).

Any image file a user hands over is untrusted: pipeline.images opens it within its bounds.
JPEG is decoded at a fraction of its size when that is all a 28x28 digit needs, and every
other image is shrunk to MAX_SIDE before anything else is done with it.

Normalisation reads a photo the way a person would, then frames it the way MNIST's digits
were made. The paper and its uneven lighting (a morphological closing) are taken away and
the ink measured against them, either polarity (`paper`); the digit is the ink's largest
connected strokes, not specks or page edges (`strokes`); it is cropped to those strokes,
scaled to fit 20x20 keeping its aspect ratio, and placed in 28x28 with its centre of mass
at the centre. The same transform serves clean scans: their paper is flat and their ink is
all one digit. Where the ink does not look like one clear digit, the digit says so in its
`doubts`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import morphology

from pipeline import images, schema
from pipeline.errors import PipelineError
from tools.predict import paper, parallel, strokes

MAX_SIDE = 1024  # pixels on the long side kept once decoded: ample for a 20x20 digit
_BOX, _SIDE = 20, schema.DIGIT_SHAPE[0]  # MNIST's digits: fitted to 20x20, centred in 28x28
_EDGE = 0.25  # the digit's box holds its pixels above this share of its ink level
_HALO = 2  # pixels around the strokes kept: their soft, anti-aliased edge


def _decoded(image: Image.Image) -> Image.Image:
    """The image decoded and shrunk to MAX_SIDE in a mode that averages sensibly."""
    image.draft("L", (MAX_SIDE, MAX_SIDE))  # JPEG only: decode at 1/2, 1/4 or 1/8 size
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode in ("P", "PA"):  # palette indices do not average: grey levels do
        transparent = image.mode == "PA" or "transparency" in image.info
        image = image.convert("LA" if transparent else "L")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    factor = math.ceil(max(image.size) / MAX_SIDE)
    return image.reduce(factor) if factor > 1 else image


def _greyscale(image: Image.Image) -> np.ndarray:
    """Float greyscale in [0, 255]; transparent areas are paper (white)."""
    if image.mode in ("I", "F"):  # 16 or 32 bits, or floats, of unknown range: stretch it
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0, posinf=0, neginf=0)
        low, high = values.min(), values.max()
        return (values - low) * (255 / (high - low)) if high > low else np.zeros_like(values)
    if image.mode in ("RGBA", "LA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return np.asarray(image.convert("L"), dtype=np.float64)


def load_image(path: Path) -> np.ndarray:
    """Reads an image file as a float greyscale array in [0, 255], at most MAX_SIDE a side.

    Raises:
        PipelineError: for a missing, empty, oversized, unreadable or non-image file.
    """
    with images.reading(path) as image:
        return greyscale(image)


def greyscale(image: Image.Image) -> np.ndarray:
    """An opened image as `load_image` reads a file: float greyscale in [0, 255], at most
    MAX_SIDE a side (mnist-serve's page sends its images here too)."""
    return _greyscale(_decoded(image))


@dataclass(frozen=True)
class Digit:
    """An image as the model takes it: a digit normalised like MNIST's, or resized.

    Attributes:
        image: uint8 [height, width] or [height, width, channels]; a digit's is [28, 28],
            light ink on black.
        doubts: why the image may hold no clear digit (see strokes.find); empty if none.
    """

    image: np.ndarray
    doubts: tuple[str, ...] = ()


def normalise(grey: np.ndarray) -> Digit:
    """Finds the digit in a greyscale image in [0, 255] and frames it like MNIST's.

    Raises:
        PipelineError: if there is no ink, or too little to survive the scaling to 20x20.
    """
    found = paper.ink_map(grey)
    digit = strokes.find(found.ink, found.noise, found.shaded)
    if digit is None:
        raise PipelineError("the image is blank: no ink found")
    rows, cols = np.nonzero(digit.mask & (found.ink > _EDGE * digit.level))
    if rows.size == 0:
        rows, cols = np.nonzero(digit.mask)
    box = slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)
    ink = np.clip(found.ink[box] / digit.level, 0, 1)  # strokes saturate, as MNIST's do
    return Digit(image=_framed(ink * _near(digit.mask, box)), doubts=digit.doubts)


def _near(mask: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """The pixels of `box` within _HALO steps of the mask."""
    return morphology.dilation(mask, morphology.diamond(_HALO))[box]


def to_mnist(grey: np.ndarray) -> np.ndarray:
    """The 28x28 uint8 digit of `normalise`, without its doubts.

    Raises:
        PipelineError: if there is no ink, or too little to survive the scaling to 20x20.
    """
    return normalise(grey).image


def _framed(ink: np.ndarray) -> np.ndarray:
    """Ink in [0, 1] scaled to fit 20x20 and placed in 28x28 by its centre of mass."""
    scale = _BOX / max(ink.shape)
    shape = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    digit = Image.fromarray((ink * 255).astype(np.uint8)).resize(shape, Image.Resampling.LANCZOS)
    box = np.asarray(digit, dtype=np.float64)
    if box.sum() <= 0:
        raise PipelineError("the ink is too small or sparse to make a digit once scaled to 20x20")
    ys, xs = np.indices(box.shape)
    centre_y, centre_x = (ys * box).sum() / box.sum(), (xs * box).sum() / box.sum()
    # A whole-pixel shift to the nearest place, as MNIST's own: its digits' centres of mass
    # spread over the half pixel around (14, 14) (tests/tools/predict/test_images.py).
    top = int(np.clip(round(_SIDE / 2 - centre_y), 0, _SIDE - box.shape[0]))
    left = int(np.clip(round(_SIDE / 2 - centre_x), 0, _SIDE - box.shape[1]))
    canvas = np.zeros((_SIDE, _SIDE), dtype=np.uint8)
    canvas[top : top + box.shape[0], left : left + box.shape[1]] = box.round().astype(np.uint8)
    return canvas


def prepared(
    files: Iterable[Path], data: schema.Schema
) -> Iterator[tuple[Path, Digit | PipelineError]]:
    """Each file as the model of schema `data` takes it, or the error that says why not, in
    the order given; many files are prepared on every core (tools.predict.parallel)."""
    return parallel.ordered(functools.partial(_prepared, data=data), files)


def _prepared(files: list[Path], data: schema.Schema) -> list[tuple[Path, Digit | PipelineError]]:
    done = []
    for path in files:
        try:
            digital = data.framing == schema.DIGIT
            done.append((path, normalise(load_image(path)) if digital else _resized(path, data)))
        except PipelineError as error:
            done.append((path, error))
    return done


def _resized(path: Path, data: schema.Schema) -> Digit:
    with images.reading(path) as image:
        return Digit(images.pixels(image, data.channels, (data.height, data.width)))

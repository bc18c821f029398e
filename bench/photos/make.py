"""Images a user might hand mnist-predict, made from digits the model never trained on.

A digit starts as an ink map, float [0, 1] on a square canvas with room around it: an
MNIST test digit enlarged as if written large on paper, or a digit printed in a font. A
`Condition` then photographs it: rotated and moved off-centre on the page, printed as dark
ink on light paper (or light on dark), lit unevenly, blurred, with sensor noise, saved as
JPEG. Every random choice comes from a generator seeded per image, so a run makes the same
files every time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

_SCALE = 5  # an MNIST digit's pixels on paper: 28 px become 140
_CANVAS = 224  # pixels a side of a photo of one handwritten digit
_PAPER, _INK = 225.0, 0.8  # paper grey level; ink darkens the paper by this share
_DARK_PAPER, _CHALK = 40.0, 180.0  # light-on-dark: a board, and its chalk's added light
_GRADIENT = 0.55  # the light falls off to this share across the page
_BLUR = 0.009  # blur sigma, a share of the canvas side: a photo slightly out of focus
_ROTATION, _OFFSET = 15.0, 0.12  # degrees either way; share of the canvas off-centre
_JPEG_QUALITY = 70
FONTS = Path("/usr/share/fonts")
FONT_SIZES = (24, 48, 96)  # pixels: the digit's glyph height, about


@dataclasses.dataclass(frozen=True)
class Condition:
    """How a digit is photographed: each field one degradation, off by default."""

    name: str
    rotate: bool = False
    offset: bool = False
    light_on_dark: bool = False
    gradient: bool = False
    blur: bool = False
    noise: float = 0.0  # sensor noise, standard deviation in grey levels
    jpeg: bool = False

    @property
    def suffix(self) -> str:
        return ".jpg" if self.jpeg else ".png"


_PHOTO = {"rotate": True, "offset": True, "gradient": True, "blur": True, "noise": 10.0}
HANDWRITTEN = (
    Condition("on paper"),
    Condition("lighting gradient", gradient=True),
    Condition("blur", blur=True),
    Condition("noise sigma 10", noise=10.0),
    Condition("noise sigma 25", noise=25.0),
    Condition("JPEG", jpeg=True),
    Condition("off-centre", offset=True),
    Condition("rotation +-15 degrees", rotate=True),
    Condition("light ink on dark", light_on_dark=True),
    Condition("photographed", **_PHOTO, jpeg=True),
    Condition("photographed, light on dark", **_PHOTO, jpeg=True, light_on_dark=True),
)
PRINTED = (
    Condition("printed"),
    Condition("printed, light on dark", light_on_dark=True),
    Condition("printed, photographed", **_PHOTO, jpeg=True),
    Condition("printed, photographed, light on dark", **_PHOTO, jpeg=True, light_on_dark=True),
)


def handwritten_ink(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit (uint8 [28, 28], light on black) as ink written large on a canvas."""
    side = digit.shape[0] * _SCALE
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    canvas = np.zeros((_CANVAS, _CANVAS), np.float32)
    start = (_CANVAS - side) // 2
    canvas[start : start + side, start : start + side] = np.asarray(big, np.float32) / 255
    return canvas


def fonts() -> list[Path]:
    """The machine's TrueType and OpenType fonts, sorted by path."""
    return sorted(p for p in FONTS.rglob("*") if p.suffix.lower() in (".ttf", ".otf"))


def printed_ink(digit: int, font: Path, size: int) -> np.ndarray:
    """A digit printed in `font` at `size` pixels, as ink centred on a canvas around it."""
    side = round(size * 2.3)
    image = Image.new("L", (side, side), 0)
    typeface = ImageFont.truetype(str(font), size)
    ImageDraw.Draw(image).text(
        (side / 2, side / 2), str(digit), fill=255, font=typeface, anchor="mm"
    )
    return np.asarray(image, np.float32) / 255


def photographed(ink: np.ndarray, condition: Condition, rng: np.random.Generator) -> Image.Image:
    """The ink map on paper as `condition` says it is photographed: a greyscale image."""
    side = ink.shape[0]
    if condition.rotate:
        angle = rng.uniform(-_ROTATION, _ROTATION)
        ink = ndimage.rotate(ink, angle, reshape=False, order=1, mode="constant")
    if condition.offset:
        shift = rng.uniform(-_OFFSET, _OFFSET, size=2) * side
        ink = ndimage.shift(ink, shift, order=1, mode="constant")
    ink = np.clip(ink, 0, 1)
    light = condition.light_on_dark
    grey = _DARK_PAPER + _CHALK * ink if light else _PAPER * (1 - _INK * ink)
    if condition.gradient:
        grey = grey * _lighting(side, rng)
    if condition.blur:
        grey = ndimage.gaussian_filter(grey, _BLUR * side)
    if condition.noise:
        grey = grey + rng.normal(0, condition.noise, grey.shape)
    return Image.fromarray(np.clip(grey, 0, 255).round().astype(np.uint8))


def _lighting(side: int, rng: np.random.Generator) -> np.ndarray:
    """A linear fall-off of the light across the page, from full to _GRADIENT, in a
    random direction."""
    direction = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:side, 0:side] / (side - 1) - 0.5
    along = xs * np.cos(direction) + ys * np.sin(direction)  # within [-0.71, 0.71]
    share = (along - along.min()) / (along.max() - along.min())
    return 1 - (1 - _GRADIENT) * share


def save(image: Image.Image, path: Path, condition: Condition) -> Path:
    """Writes the photo as the condition's format; returns its path with that suffix."""
    path = path.with_suffix(condition.suffix)
    if condition.jpeg:
        image.save(path, quality=_JPEG_QUALITY)
    else:
        image.save(path)
    return path

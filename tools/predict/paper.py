"""How much ink each pixel of a photo holds, with the paper and its lighting taken away.

The paper is a morphological closing of the image: a closing by a square half the
image's short side fills every dark stroke narrower than that, a digit's, and keeps what
is wider, so it follows the page's lighting, a shadow, the table beyond the page; the
black top-hat (the closing less the image) is the ink alone. Light ink on dark
paper is the same after flipping the image; which of the two a photo holds is the side its
outlying pixels lie on, as the paper is most of the page. Ink is measured relative to the
paper (light is multiplicative: the same ink is darker on a brighter part of the page).

The closing is scipy.ndimage's, which scikit-image's own closing runs on: called with the
square's size, it runs as separable running minima and maxima, about ten times faster on a
working-size photo than scikit-image's footprint (even decomposed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage, stats

_WORK_SIDES = (128, 512)  # the long side is brought within these before any work...
_ENLARGE = 2  # ...a small image's by at most this factor (its own detail is all there is)
_SMOOTH_SIGMA = 1.5  # pixels at the working scale: noise averaged, strokes (>= 3 px) kept
_SQUARE = 2  # the closing's square is the short side over this: wider than any stroke
_OUTLYING = 3.0  # pixels this many spreads from the image's median tell the ink's side
_NOISE_FLOOR = 0.004  # ink noise assumed at least this (a perfectly flat scan has none)
_SHADE = 0.5  # paper under this share of the page's brightest (its 95th percentile) is shade


@dataclass(frozen=True)
class InkMap:
    """The ink of an image at the working scale.

    Attributes:
        ink: float [H, W], contrast against the paper, 0 for paper and about 1 for black
            ink on white (light ink on dark paper is measured the same way, flipped).
        noise: the standard deviation of `ink` on the paper (its median absolute deviation,
            scaled), where the paper also has its level: the ink left out of both.
        dark_ink: whether the ink was darker than the paper.
        shaded: the share of the image in shade (a shadow, the table), under half as
            bright as the page's brightest paper.
    """

    ink: np.ndarray
    noise: float
    dark_ink: bool
    shaded: float


def ink_map(grey: np.ndarray) -> InkMap:
    """The ink in a greyscale image in [0, 255] at the working scale (see `working`)."""
    sigma = _smoothing(max(grey.shape))
    grey = working(grey).astype(np.float64)
    if min(grey.shape) > 3:  # clean scans too: it thickens thin print a little, as MNIST's
        grey = ndimage.gaussian_filter(grey, sigma, mode="nearest")
    dark_ink = _dark_ink(grey)
    page = grey if dark_ink else 255.0 - grey  # dark ink on light paper, either way
    page = np.minimum(page, 255.0)  # an enlargement's ringing makes no paper whiter than white
    paper = background(page)
    ink = paper - page
    plain = _plain(ink)  # the paper's own pixels: the ink would bias its level and spread
    lift = float(np.median(ink[plain]))  # a closing takes the top of the paper's noise
    paper, ink = paper - lift, ink - lift
    ink = ink / np.maximum(paper, 16.0)  # relative, so dim corners count as much
    noise = max(float(stats.median_abs_deviation(ink[plain], scale="normal")), _NOISE_FLOOR)
    shaded = float((paper < _SHADE * np.percentile(paper, 95)).mean())
    return InkMap(ink=ink, noise=noise, dark_ink=dark_ink, shaded=shaded)


def _plain(ink: np.ndarray) -> np.ndarray:
    """The pixels that are paper, not ink: all but those _OUTLYING spreads above the
    median on the ink's side (ink strays on one side; a clean scan's paper, all one grey,
    is every pixel at its level)."""
    centre = np.median(ink)
    spread = _OUTLYING * float(stats.median_abs_deviation(ink, axis=None, scale="normal"))
    return ink <= centre + spread


def background(page: np.ndarray) -> np.ndarray:
    """The paper under dark ink: the page closed by a square wider than any stroke. The
    page is first extended by a square's side of its edge pixels, so the closing sees the
    light going on as it was at the edge (a ramp of light stays exactly the ramp, where
    a closing's own border modes lift it near the edge). An image too small to tell a
    stroke from the page's light has flat paper, its median."""
    side = min(page.shape) // _SQUARE
    if side < 3:
        return np.full(page.shape, np.median(page))
    closed = ndimage.grey_closing(np.pad(page, side, mode="edge"), size=(side, side))
    return closed[side:-side, side:-side]


def _dark_ink(grey: np.ndarray) -> bool:
    """Whether the ink is darker than the paper: more pixels lie far below the image's
    median than far above it (paper is most of the page, and ink strays on one side)."""
    centre = np.median(grey)
    spread = _OUTLYING * max(float(stats.median_abs_deviation(grey, axis=None)), 1.0)
    below = np.count_nonzero(grey < centre - spread)
    return bool(below >= np.count_nonzero(grey > centre + spread))


def _smoothing(long_side: int) -> float:
    """The smoothing's sigma at the working scale for an image of this long side: less for
    an image enlarged to work on (by the square of the enlargement), whose interpolated
    pixels already share their noise and whose strokes' soft edges it would widen further,
    moving the digit's box off the one MNIST's own 28x28 digits were framed by."""
    enlarged = max(1.0, _work_side(long_side) / max(long_side, 1))  # a shrunk one: as is
    return _SMOOTH_SIGMA / enlarged**2


def working(grey: np.ndarray) -> np.ndarray:
    """The image resized so its long side is within _WORK_SIDES, or enlarged _ENLARGE times
    if that is less (area-averaged when shrunk, which also averages noise away; bicubic when
    grown, so thin strokes get pixels to span). A small image is not enlarged further: more
    pixels interpolated from its own add no detail, only work and a softer digit."""
    long_side = max(grey.shape)
    target = _work_side(long_side)
    if target == long_side:
        return grey.astype(np.float32)
    height, width = grey.shape
    scale = target / long_side
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    kind = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
    image = Image.fromarray(grey.astype(np.float32), mode="F").resize(size, kind)
    return np.asarray(image, dtype=np.float32)


def _work_side(long_side: int) -> int:
    """The working long side of an image with this long side (see `working`)."""
    small = min(_WORK_SIDES[0], _ENLARGE * long_side)
    return min(max(long_side, small), _WORK_SIDES[1])

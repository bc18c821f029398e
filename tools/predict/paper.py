"""How much ink each pixel of a photo holds, with the paper and its lighting taken away.

A photo's paper is not one grey: light falls off across the page, so a fixed level (or the
border's median) takes a dim corner for ink. The paper is modelled instead as a smooth
surface, a quadratic in x and y fitted robustly (the ink, a minority of the pixels, is left
out as outliers), which follows gradients and vignetting but not strokes; fitted for dark
ink and for light, it also tells which the image holds. Ink is then measured as contrast
against that surface, relative to it (light is multiplicative: the same ink is darker on a
brighter part of the page), smoothed a little against noise, and cleared of the shadows
and dark surroundings no smooth surface follows (shade.unshaded).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from tools.predict import shade

_WORK_SIDES = (128, 512)  # the long side is brought within these before any work...
_ENLARGE = 2  # ...a small image's by at most this factor (its own detail is all there is)
_FIT_SIDES = (32, 64)  # the background is fitted on a copy this small: a smooth surface...
_FIT_SHRINK = 2  # ...needs no more, and is fitted this many times smaller where that is within
_FIT_ROUNDS, _FIT_REJECT = 5, 2.5  # rounds of refitting; outliers beyond this many sigmas
_NOISE_FLOOR = 0.004  # contrast noise assumed at least this (a perfectly flat scan has none)
_SMOOTH_SIGMA = 1.5  # pixels at the working scale: noise averaged, strokes (>= 3 px) kept


@dataclass(frozen=True)
class InkMap:
    """The ink of an image at the working scale.

    Attributes:
        ink: float [H, W], contrast against the paper, 0 for paper and about 1 for black
            ink on white (light ink on dark paper is measured the same way, flipped).
        noise: the standard deviation of `ink` on the paper, after smoothing.
        dark_ink: whether the ink was darker than the paper.
        shaded: the share of the image in shade (a shadow, the table: see shade.unshaded).
    """

    ink: np.ndarray
    noise: float
    dark_ink: bool
    shaded: float


def ink_map(grey: np.ndarray) -> InkMap:
    """The ink in a greyscale image in [0, 255] at the working scale (see `working`)."""
    sigma = _smoothing(max(grey.shape))
    grey = working(grey)
    paper, dark_ink = background(grey)
    if dark_ink:  # relative to the paper's own brightness, so dim corners count as much
        ink = (paper - grey) / np.maximum(paper, 16.0)
    else:
        ink = (grey - paper) / np.maximum(255.0 - paper, 16.0)
    if min(ink.shape) > 3:  # clean scans too: it thickens thin print a little, as MNIST's
        ink = ndimage.gaussian_filter(ink, sigma, mode="nearest")
    noise = max(_paper_noise(ink), _NOISE_FLOOR)
    unshaded, shaded = shade.unshaded(ink, noise)
    if unshaded is not ink:  # most images have no shade, and their noise is measured
        ink, noise = unshaded, max(_paper_noise(unshaded), _NOISE_FLOOR)
    return InkMap(ink=ink, noise=noise, dark_ink=dark_ink, shaded=shaded)


def _smoothing(long_side: int) -> float:
    """The smoothing's sigma at the working scale for an image of this long side: less for
    an image enlarged to work on (by the square of the enlargement), whose interpolated
    pixels already share their noise and whose strokes' soft edges it would widen further,
    moving the digit's box off the one MNIST's own 28x28 digits were framed by."""
    enlarged = max(1.0, _work_side(long_side) / max(long_side, 1))  # a shrunk one: as is
    return _SMOOTH_SIGMA / enlarged**2


def _paper_noise(ink: np.ndarray) -> float:
    """The noise of the ink map, from its paper side (below 0), where no ink is."""
    below = -ink[ink < 0]
    return 1.4826 * float(_median(below)) if below.size else 0.0


def working(grey: np.ndarray) -> np.ndarray:
    """The image resized so its long side is within _WORK_SIDES, or enlarged _ENLARGE times
    if that is less (area-averaged when shrunk, which also averages noise away; bicubic when
    grown, so thin strokes get pixels to span). A small image is not enlarged further: more
    pixels interpolated from its own add no detail, only work and a softer digit."""
    long_side = max(grey.shape)
    target = _work_side(long_side)
    if target == long_side:
        return grey.astype(np.float32)
    return _resized(grey, target / long_side)


def _work_side(long_side: int) -> int:
    """The working long side of an image with this long side (see `working`)."""
    small = min(_WORK_SIDES[0], _ENLARGE * long_side)
    return min(max(long_side, small), _WORK_SIDES[1])


def _resized(values: np.ndarray, scale: float) -> np.ndarray:
    height, width = values.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    kind = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
    image = Image.fromarray(values.astype(np.float32), mode="F").resize(size, kind)
    return np.asarray(image, dtype=np.float32)


def background(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """The paper's brightness under the page's lighting, [H, W], and whether the ink is
    darker than the paper.

    The quadratic is fitted first to the image's border, outliers either way left out.
    From there it is refitted to the whole image twice, once for dark ink and once for
    light, each time leaving out only pixels on the ink's side (which keeps the paper's own
    noise in the fit, so it does not bend under a digit covering much of the page); the
    polarity is the one whose fit explains the image better (`_implausibility`).
    """
    fit_side = min(max(max(grey.shape) / _FIT_SHRINK, _FIT_SIDES[0]), _FIT_SIDES[1])
    small = _resized(grey, min(1.0, fit_side / max(grey.shape)))
    terms, ring_terms, ring = _fit_terms(small.shape)
    values = small.ravel().astype(np.float64)
    # The first guess is the paper around the edge, as a person takes the margin for paper:
    # the border alone, so a digit covering much of the middle cannot drag it.
    start = np.full(ring.size, _median(values[ring]))
    guess = terms @ _fit(ring_terms, values[ring], start, ink_side=0)[0]
    fits = {sign: _fit(terms, sign * values, sign * guess, ink_side=-1) for sign in (1, -1)}
    noise = max(_pixel_noise(small), 1.0)
    sign = min(fits, key=lambda s: _implausibility(fits[s][1], noise))
    surface = _surface(fits[sign][0], grey.shape)
    return (surface if sign == 1 else -surface), sign == 1


def _pixel_noise(image: np.ndarray) -> float:
    """The noise of single pixels, from differences between neighbours: the same whichever
    side the ink is on, and blind to ink except along its edges (the median ignores them)."""
    steps = np.abs(np.diff(image, axis=1)).ravel()
    return 1.4826 * float(_median(steps)) / np.sqrt(2) if steps.size else 0.0


def _implausibility(residual: np.ndarray, noise: float) -> float:
    """How badly a fit of the paper explains the image (`residual` is positive on the
    paper's side): paper is most of the page and ink strays from it on one side only, so
    pixels far on the paper's side count against the fit (four times), and ink covering
    more of the page counts against it too. This picks the polarity when a table or a
    bold digit covers a large part of the image, where the tail alone misleads."""
    far = 3 * noise
    return 4 * float((residual > far).mean()) + float((residual < -far).mean())


def _ring(shape: tuple[int, int]) -> np.ndarray:
    """The image's border, a sixteenth of its short side wide (at least a pixel)."""
    width = max(1, min(shape) // 16)
    ring = np.ones(shape, bool)
    ring[width:-width, width:-width] = False
    return ring


@functools.lru_cache(maxsize=16)
def _fit_terms(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The quadratic's terms at each pixel, those on the border (`_ring`) and the border's
    flat indices: made once per shape, read-only."""
    terms = _quadratic_terms(shape)
    ring = np.flatnonzero(_ring(shape))
    ring_terms = terms[ring]
    for array in (terms, ring_terms, ring):
        array.setflags(write=False)
    return terms, ring_terms, ring


def _fit(
    terms: np.ndarray, values: np.ndarray, start: np.ndarray, ink_side: int
) -> tuple[np.ndarray, np.ndarray]:
    """The quadratic's coefficients, refitted round by round on the pixels near the last
    fit: within _FIT_REJECT sigmas either way (ink_side 0), or on the paper's side of it
    and a little below (ink_side -1: ink lies below the paper; paper-side outliers, such as
    glare, are still left out beyond twice as far); and the values' residuals from them."""
    residual, keep = values - start, None
    for _ in range(_FIT_ROUNDS):
        spread = _spread(residual, keep, ink_side)
        limit = _FIT_REJECT * spread
        kept = (residual > -limit) & (residual < limit * (1 - ink_side))
        if np.count_nonzero(kept) < terms.shape[1] * 4 or (
            keep is not None and np.array_equal(kept, keep)
        ):
            break  # too few pixels left to fit six terms, or the fit has settled
        keep = kept
        # compress, not terms[keep]: the same rows, in the same layout, a few times faster
        coefficients = _least_squares(np.compress(keep, terms, axis=0), values[keep])
        residual = values - terms @ coefficients
    if keep is None:  # nothing to fit to: the paper is the start, as flat as it was given
        coefficients = _least_squares(terms, start)
        residual = values - terms @ coefficients
    return coefficients, residual


def _least_squares(terms: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The least-squares coefficients, by the 6x6 normal equations: a tenth of the time of
    a full lstsq, and exact enough on coordinates in [-1, 1]; lstsq on the small system
    still copes with a degenerate image (one row, say) whose terms are not independent."""
    return np.linalg.lstsq(terms.T @ terms, terms.T @ values, rcond=None)[0]


def _spread(residual: np.ndarray, keep: np.ndarray | None, ink_side: int) -> float:
    """The paper's noise, from the residuals kept (all of them when `keep` is None): from
    all of those, or (ink_side -1) from the paper's side only, which the ink never reaches
    (half a Gaussian's median is 0.6745 sigma)."""
    if ink_side == 0:
        return max(_sigma(residual if keep is None else residual[keep]), 1.0)
    above = residual > 0
    above = residual[above if keep is None else above & keep]
    return max(1.4826 * float(_median(above)) if above.size else 0.0, 1.0)


@functools.lru_cache(maxsize=16)
def _quadratic_terms(shape: tuple[int, int]) -> np.ndarray:
    """1, x, y, x^2, xy, y^2 at each pixel, on coordinates in [-1, 1] (well conditioned);
    read-only, made once per shape (a folder's images mostly share a few)."""
    ys, xs = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    xs, ys = xs.ravel(), ys.ravel()
    terms = np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=1)
    terms.setflags(write=False)
    return terms


def _surface(coefficients: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The quadratic over a full image, by broadcasting rows against columns (the terms
    matrix of a 1024-pixel image would be 48 MiB)."""
    ys, xs = np.linspace(-1, 1, shape[0])[:, None], np.linspace(-1, 1, shape[1])[None, :]
    a, bx, by, bxx, bxy, byy = coefficients
    return a + bx * xs + by * ys + bxx * xs * xs + bxy * xs * ys + byy * ys * ys


def _sigma(values: np.ndarray) -> float:
    """A standard deviation that ink cannot inflate: 1.4826 times the median deviation."""
    if values.size == 0:
        return 0.0
    return float(1.4826 * _median(np.abs(values - _median(values))))


def _median(values: np.ndarray) -> float:
    """np.median of a non-empty 1-D array, the same value (NaN if it holds one) without
    the general machinery around it, which costs more than the partition on arrays of a
    few thousand values, a dozen times an image."""
    half = values.size // 2
    even = values.size % 2 == 0
    part = np.partition(values, [half - 1, half, -1] if even else [half, -1])
    if np.isnan(part[-1]):
        return float("nan")
    return float((part[half - 1] + part[half]) / 2) if even else float(part[half])

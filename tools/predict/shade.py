"""Shadows, the table and the page's edge: wide areas of ink-like darkness, taken out.

The fitted paper (paper.background) is one smooth surface, and a shadow's edge, the table
beyond the page or the page's own edge are not smooth: against that surface they read as
ink, wide areas of it. Strokes are narrow, so what is wider than any stroke is shade: the
ink map's grey opening by a square a quarter of the image's short side (a square that
large never fits inside a digit's strokes, even a bold digit cropped tight) keeps exactly
the wide areas, with their edges where they are, and drops the strokes. The ink is then
measured against that shade, as a person sees a digit in a shadow as dark on dim paper.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

_SQUARE = 4  # the square's side is the short side over this
_SEEN_SHRINK = 4  # whether there is any shade is judged on a copy this many times smaller
_OFFSET_SIDE = 48  # the opening's offset is estimated on a copy at most this large...
_OFFSET_RANK = 30  # ...as this percentile of the ink above the opening, around each pixel
_OFFSET_SIGMAS = 3  # ...and at most this many noise sigmas (the bias it corrects)
_SHADE_CONTRAST = 0.06  # shade counts towards `shaded` above this contrast (as ink does)


def unshaded(ink: np.ndarray, noise: float) -> tuple[np.ndarray, float]:
    """The ink map with shade taken out, and the share of the image that was shade (wide,
    beyond `noise` four times, running off the image: not paper under the fitted light)."""
    side = min(ink.shape) // _SQUARE
    if side < 3 or not _shade_seen(ink, side, max(4 * noise, _SHADE_CONTRAST)):
        return ink, 0.0  # most images: the full-size opening and its offset are not needed
    shade = ndimage.grey_opening(ink, size=(side, side), mode="nearest")
    # The offset corrects the opening's bias from noise, no more: bounded by a few sigmas,
    # it cannot eat into a bold digit whose strokes fill most of a square.
    shade = shade + np.clip(_offset(ink - shade, side), 0, _OFFSET_SIGMAS * noise)
    shade = shade * _off_the_edge(shade > max(4 * noise, _SHADE_CONTRAST))
    return (ink - shade) / (1 - np.minimum(shade, 0.9)), float((shade > 0).mean())


def _shade_seen(ink: np.ndarray, side: int, level: float) -> bool:
    """Whether any shade runs off the image, judged on a copy a quarter the size (the
    opening's bias makes this err towards seeing none: faint shade is left alone)."""
    small = _shrunk(ink, 1 / _SEEN_SHRINK)
    wide = ndimage.grey_opening(small, size=(max(2, side // _SEEN_SHRINK),) * 2, mode="nearest")
    # _off_the_edge(wide > level).any(), without labelling: an area runs off the image
    # exactly when one of the border's pixels is in it
    return bool((_border(wide) > level).any())


def _border(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])


def _shrunk(values: np.ndarray, scale: float) -> np.ndarray:
    size = (max(1, round(values.shape[1] * scale)), max(1, round(values.shape[0] * scale)))
    return np.asarray(
        Image.fromarray(values.astype(np.float32), "F").resize(size, Image.Resampling.BOX)
    )


def _off_the_edge(wide: np.ndarray) -> np.ndarray:
    """The wide areas that run off the image: shade. One wholly inside it is an object (a
    stain, a fingertip, a blurred bold digit's inside) and stays, for strokes.find to judge;
    a square opening would cut its round edge into crescents that pass for strokes."""
    labels, count = ndimage.label(wide)
    if count == 0:
        return wide
    edges = _border(labels)
    return np.isin(labels, np.unique(edges[edges > 0]))


def _offset(above: np.ndarray, side: int) -> np.ndarray:
    """How far the paper lies above the opening, around each pixel.

    An opening takes the lowest of the noise, so it runs below the paper by a few noise
    sigmas, more where the light is dim and the noise (relative to it) strong. A low
    percentile of what lies above it, over squares of the same size, measures that gap;
    the strokes in a square are too few to reach it (under 70% of any square's pixels).
    The gap varies smoothly, so it is measured on a small copy and scaled back up.
    """
    scale = min(1.0, _OFFSET_SIDE / max(above.shape))
    small = _shrunk(above, scale)
    window = max(3, round(side * scale))
    gap = ndimage.percentile_filter(small, _OFFSET_RANK, size=window, mode="nearest")
    back = Image.fromarray(gap, "F").resize(
        (above.shape[1], above.shape[0]), Image.Resampling.BILINEAR
    )
    return np.asarray(back, dtype=np.float64)

"""Which ink is the digit: its connected strokes, not specks, smudges or the page's edge.

Pixels clearly above the noise are grouped into 8-connected components, those that reach
a contrast a stroke has (a hysteresis threshold: the noise tells what is ink at all, the
contrast which ink is a stroke, so a stroke's faint edge stays joined to it, as a clean
scan's anti-aliased one, wherever exactly it crosses the contrast). The digit is the
component with the most ink (preferring ones clear of the image's edge, where page edges
and shadows lie), joined by the sizeable components near it (a stroke broken by blur or a
faint pen). Whatever is left is dropped. Along the way the evidence that the image holds
no clear digit is written down as doubts, for the user to see beside the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import filters, measure

_NOISE_SIGMAS = 4.0  # ink is this many noise sigmas above the paper...
_MIN_CONTRAST = 0.06  # ...and at least this contrast (6% darker than the paper)
_STRONG = 0.4  # a component counts only if it reaches this share of the digit's ink level
_PART = 0.05  # a component with this share of the main one's ink may be part of the digit
_NEAR = 0.3  # ...if within this share of the digit's size of it
_RIVAL = 0.5  # a component far off with this share of the main one's ink is another blob
_CROWDED = 0.5  # ink over this share of the image: no digit on paper
_CORE = 0.5  # a stroke's core: at least this share of the ink level (its blurred edge left out)
_THICK = 0.6  # widest stroke over this share of the digit's size: a blob, not strokes...
_THICK_FILLED = (0.4, 0.65)  # ...or over this share while filling this share of its box
_THICK_AT_EDGE = 0.4  # ...or over this share and running off the image: a shadow, a table
_SHADED = 0.25  # shade (paper.InkMap.shaded) over this share of the image: the light is unclear
_FAINT = 8.0  # ink level under this many noise sigmas: the digit barely shows
_PROPERTIES = ("label", "bbox", "area", "intensity_mean", "intensity_max")


@dataclass(frozen=True)
class Strokes:
    """The digit found in an ink map.

    Attributes:
        mask: bool [H, W], the digit's pixels.
        level: the digit's typical ink contrast (its strokes' 90th percentile).
        doubts: why the image may hold no clear digit; empty when it looks like one.
    """

    mask: np.ndarray
    level: float
    doubts: tuple[str, ...]


def find(ink: np.ndarray, noise: float, shaded: float = 0.0) -> Strokes | None:
    """The digit's strokes in an ink map (see paper.InkMap: its ink, noise and share in
    shade), or None when there is no ink at all."""
    clear = _NOISE_SIGMAS * noise
    kept = filters.apply_hysteresis_threshold(ink, clear, max(clear, _MIN_CONTRAST))
    labels = measure.label(kept, connectivity=2)
    if labels.max() == 0:
        return None
    found = measure.regionprops_table(labels, ink, properties=_PROPERTIES)
    boxes = np.stack([found[f"bbox-{n}"] for n in range(4)], axis=1)  # top, left, bottom, right
    mass = found["area"] * found["intensity_mean"]
    inside = (boxes[:, :2] > 0).all(axis=1) & (boxes[:, 2:] < labels.shape).all(axis=1)
    main = _main(mass, inside)
    level = float(np.percentile(ink[labels == found["label"][main]], 90))
    # Hysteresis: a component counts if it reaches a strong level. A digit clear of the
    # edge is joined only by ink clear of it too: what runs off the image (a shadow, the
    # table) is not part of it, nor another digit.
    alive = found["intensity_max"] >= _STRONG * level
    alive &= (mass >= _PART * mass[main]) & (inside | ~inside[main])
    members = _members(main, alive, boxes)
    rivals = int(np.count_nonzero(alive & ~members & (mass >= _RIVAL * mass[main])))
    mask = np.isin(labels, found["label"][members])
    doubts = _ink_doubts(mask, level / noise, rivals, shaded)
    doubts += _shape_doubts(mask & (ink > _CORE * level), at_edge=not inside[main])
    return Strokes(mask=mask, level=level, doubts=doubts)


def _main(mass: np.ndarray, inside: np.ndarray) -> int:
    """The component with the most ink, among those clear of the image's edge if one of
    them holds a fair share; a digit cropped tight (touching the edge) is still found."""
    if inside.any() and mass[inside].max() >= _PART * mass.max():
        return int(np.flatnonzero(inside)[mass[inside].argmax()])
    return int(mass.argmax())


def _members(main: int, alive: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The main component and the live ones near enough to be its broken strokes (within
    _NEAR of the digit's size of its box, the box growing as they join)."""
    members = np.zeros(len(boxes), bool)
    members[main] = True
    while True:
        box = np.concatenate([boxes[members, :2].min(axis=0), boxes[members, 2:].max(axis=0)])
        # pixels between each box and the digit's, the larger of the two axes' gaps
        gap = np.maximum(boxes[:, :2] - box[2:], box[:2] - boxes[:, 2:]).max(axis=1)
        near = alive & ~members & (gap <= _NEAR * (box[2:] - box[:2]).max())
        if not near.any():
            return members
        members |= near


def _ink_doubts(mask: np.ndarray, contrast: float, rivals: int, shaded: float) -> tuple:
    """What about the ink says it may not be one clear digit: how much there is, how many
    blobs, how far above the noise (`contrast`, in noise sigmas), how much shade."""
    doubts = []
    if mask.mean() > _CROWDED:
        doubts.append("ink covers most of the image")
    if rivals:
        doubts.append(f"{rivals + 1} blobs of ink of similar size: which is the digit is unclear")
    if contrast < _FAINT:
        doubts.append("the ink is faint against the noise")
    if shaded > _SHADED:
        doubts.append("much of the image is in shadow or dark (the table?)")
    return tuple(doubts)


def _shape_doubts(core: np.ndarray, at_edge: bool) -> tuple:
    """What about the strokes' shape says they may not be a digit (`core`: the strokes'
    pixels with at least half the ink level, without their blurred edges)."""
    thick, fill = shape(core) if core.any() else (0.0, 0.0)
    if thick > _THICK or (thick > _THICK_FILLED[0] and fill > _THICK_FILLED[1]):
        return ("the ink is a solid blob, not strokes",)
    if at_edge and thick > _THICK_AT_EDGE:
        return ("wide ink runs off the image's edge (a shadow, the table?)",)
    return ()


def shape(mask: np.ndarray) -> tuple[float, float]:
    """How thick the ink is, and how much of its bounding box it fills.

    Thickness is twice the largest distance to paper (the widest stroke) over the ink's
    size: 0.1-0.3 for a digit's strokes, 0.5 for a filled 2:1 ellipse, 1 for a disc.
    """
    rows, cols = np.nonzero(mask)
    crop = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    widest = 2 * ndimage.distance_transform_edt(np.pad(crop, 1)).max()
    return float(widest / max(crop.shape)), float(crop.mean())

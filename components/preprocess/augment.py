"""Elastic distortions of digit images, for preprocess's augmented copies.

Simard, Steinkraus & Platt, "Best Practices for Convolutional Neural Networks Applied to
Visual Document Analysis" (ICDAR 2003): each pixel gets a random displacement, uniform in
[-1, 1) along each axis; the field is smoothed by a Gaussian of standard deviation `SIGMA`
pixels, scaled by `ALPHA`, and the image is resampled at the displaced points with bilinear
interpolation (zeros outside the image). Small `SIGMA` gives noise, large `SIGMA` a shift; 4
and 34 are the paper's MNIST values.

Each copy's randomness comes from a generator seeded by (seed, copy number, key), so a copy
is the same bytes whoever makes it, in whatever batch: output never depends on the runner
or the number of workers. Everything else is vectorised over a batch in numpy.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from pipeline import codec, schema

SIGMA = 4.0
ALPHA = 34.0
_SIDE = schema.IMAGE_SHAPE[0]
_TRUNCATE = 4.0  # the Gaussian's support, in standard deviations, as scipy.ndimage's default


@functools.cache
def _smoothing() -> np.ndarray:
    """The Gaussian as a [side, side] matrix: `G @ field @ G.T` smooths along both axes
    with zeros beyond the edges (scipy.ndimage.gaussian_filter with mode="constant")."""
    radius = int(_TRUNCATE * SIGMA + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / SIGMA) ** 2)
    taps /= taps.sum()
    offsets = np.arange(_SIDE)[None, :] - np.arange(_SIDE)[:, None] + radius
    inside = (offsets >= 0) & (offsets <= 2 * radius)
    return np.where(inside, taps[np.clip(offsets, 0, 2 * radius)], 0.0)


def random_fields(keys: np.ndarray, *, copy: int, seed: int) -> np.ndarray:
    """Uniform [-1, 1) displacements, [N, 2, side, side] (y then x), one generator per key."""
    fields = np.empty((len(keys), 2 * _SIDE * _SIDE))
    for row, key in enumerate(keys):
        digest = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
        np.random.default_rng([seed, copy, digest]).random(out=fields[row])
    return (fields * 2 - 1).reshape(len(keys), 2, _SIDE, _SIDE)


def distort(images: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """Resamples uint8 images [N, side, side, 1] along random fields (random_fields).

    Returns:
        The distorted images, uint8, same shape.
    """
    n = len(images)
    smooth = _smoothing()
    # Smoothing as two matrix products over the whole batch: G @ F, then (.) @ G.T.
    columns = np.matmul(smooth, fields.reshape(-1, _SIDE, _SIDE))
    displacement = ALPHA * np.matmul(columns, smooth.T).reshape(n, 2, _SIDE, _SIDE)
    grid = np.arange(_SIDE, dtype=np.float64)
    # Sample points in a frame padded by one zero pixel on every side, clipped to it: a
    # point further out reads only zeros, as it would beyond any pad.
    y = np.clip(grid[:, None] + displacement[:, 0], -1, _SIDE).ravel() + 1
    x = np.clip(grid[None, :] + displacement[:, 1], -1, _SIDE).ravel() + 1
    top, left = np.minimum(y.astype(np.intp), _SIDE), np.minimum(x.astype(np.intp), _SIDE)
    dy, dx = y - top, x - left
    width = _SIDE + 2
    padded = np.zeros((n, width, width), np.float64)
    padded[:, 1:-1, 1:-1] = images.reshape(n, _SIDE, _SIDE)
    flat = padded.ravel()
    corner = np.repeat(np.arange(n) * width * width, _SIDE * _SIDE) + top * width + left
    upper = flat[corner] + dx * (flat[corner + 1] - flat[corner])
    lower = flat[corner + width] + dx * (flat[corner + width + 1] - flat[corner + width])
    resampled = upper + dy * (lower - upper)
    return np.rint(resampled).astype(np.uint8).reshape(images.shape)


def augmented_copy(batch: codec.Examples, *, copy: int, seed: int) -> codec.Examples:
    """Copy number `copy` (from 1) of each example: its own key, a distorted image, its label."""
    fields = random_fields(batch.keys, copy=copy, seed=seed)
    keys = np.array([schema.copy_key(key, copy) for key in batch.keys], object)
    return codec.Examples(keys, distort(batch.images, fields), batch.labels)

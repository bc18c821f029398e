"""Elastic distortions of digit images, for preprocess's augmented copies.

Simard, Steinkraus & Platt, "Best Practices for Convolutional Neural Networks Applied to
Visual Document Analysis" (ICDAR 2003): each pixel gets a random displacement, uniform in
[-1, 1) along each axis; the field is smoothed by a Gaussian of standard deviation `SIGMA`
pixels, scaled by `ALPHA`, and the image is resampled at the displaced points with bilinear
interpolation (zeros outside the image). Small `SIGMA` gives noise, large `SIGMA` a shift; 4
and 34 are the paper's values for MNIST's 28 pixels: images of another size scale both with
their side, and every channel of an image moves along the same field.

Each copy's randomness comes from a generator seeded by (seed, copy number, key), so a copy
is the same bytes whoever makes it, in whatever batch: output never depends on the runner
or the number of workers. Everything else is vectorised over a batch in numpy.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from pipeline import codec, schema

SIGMA = 4.0  # pixels, for MNIST's 28x28 images: other sizes scale both with their side
ALPHA = 34.0
_MNIST_SIDE = 28
_TRUNCATE = 4.0  # the Gaussian's support, in standard deviations, as scipy.ndimage's default


def sized(height: int, width: int) -> tuple[float, float]:
    """(sigma, alpha) for images of this size: the paper's values, scaled with the side."""
    scale = min(height, width) / _MNIST_SIDE
    return SIGMA * scale, ALPHA * scale


@functools.cache
def _smoothing(side: int, sigma: float) -> np.ndarray:
    """The Gaussian as a [side, side] matrix: `G_h @ field @ G_w.T` smooths along both axes
    with zeros beyond the edges (scipy.ndimage.gaussian_filter with mode="constant")."""
    radius = int(_TRUNCATE * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    offsets = np.arange(side)[None, :] - np.arange(side)[:, None] + radius
    inside = (offsets >= 0) & (offsets <= 2 * radius)
    return np.where(inside, taps[np.clip(offsets, 0, 2 * radius)], 0.0)


def random_fields(keys: np.ndarray, *, copy: int, seed: int, size: tuple[int, int]) -> np.ndarray:
    """Uniform [-1, 1) displacements, [N, 2, height, width] (y then x), one generator per key."""
    height, width = size
    fields = np.empty((len(keys), 2 * height * width))
    for row, key in enumerate(keys):
        digest = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
        np.random.default_rng([seed, copy, digest]).random(out=fields[row])
    return (fields * 2 - 1).reshape(len(keys), 2, height, width)


def distort(images: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """Resamples uint8 images [N, height, width, channels] along random fields
    (random_fields): every channel along the same field.

    Returns:
        The distorted images, uint8, same shape.
    """
    n, height, width, channels = images.shape
    sigma, alpha = sized(height, width)
    across, down = _smoothing(width, sigma), _smoothing(height, sigma)
    # Smoothing as two matrix products over the whole batch: G_h @ F, then (.) @ G_w.T.
    columns = np.matmul(down, fields.reshape(-1, height, width))
    displacement = alpha * np.matmul(columns, across.T).reshape(n, 2, height, width)
    # Sample points in a frame padded by one zero pixel on every side, clipped to it: a
    # point further out reads only zeros, as it would beyond any pad.
    rows, cols = np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64)
    y = np.clip(rows[:, None] + displacement[:, 0], -1, height).ravel() + 1
    x = np.clip(cols[None, :] + displacement[:, 1], -1, width).ravel() + 1
    top, left = np.minimum(y.astype(np.intp), height), np.minimum(x.astype(np.intp), width)
    dy, dx = (y - top)[:, None], (x - left)[:, None]
    row = width + 2
    padded = np.zeros((n, height + 2, row, channels), np.float64)
    padded[:, 1:-1, 1:-1] = images
    flat = padded.reshape(-1, channels)
    corner = np.repeat(np.arange(n) * (height + 2) * row, height * width) + top * row + left
    upper = flat[corner] + dx * (flat[corner + 1] - flat[corner])
    lower = flat[corner + row] + dx * (flat[corner + row + 1] - flat[corner + row])
    resampled = upper + dy * (lower - upper)
    return np.rint(resampled).astype(np.uint8).reshape(images.shape)


def augmented_copy(batch: codec.Examples, *, copy: int, seed: int) -> codec.Examples:
    """Copy number `copy` (from 1) of each example: its own key, a distorted image, its label."""
    size = batch.images.shape[1:3]
    fields = random_fields(batch.keys, copy=copy, seed=seed, size=size)
    keys = np.array([schema.copy_key(key, copy) for key in batch.keys], object)
    return codec.Examples(keys, distort(batch.images, fields), batch.labels)

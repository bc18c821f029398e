"""The elastic distortion against scipy's own Gaussian filter and bilinear resampling."""

import numpy as np
from scipy import ndimage

from components.preprocess import augment
from pipeline import codec, schema


def _reference(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Simard et al.'s distortion, as scipy.ndimage writes it: smooth each axis's random
    displacements with a Gaussian (zeros beyond the edges), scale by alpha, resample
    bilinearly with zeros outside the image."""
    displacement = [
        augment.ALPHA * ndimage.gaussian_filter(axis, augment.SIGMA, mode="constant")
        for axis in field
    ]
    grid = np.indices(image.shape, dtype=np.float64)
    points = [grid[0] + displacement[0], grid[1] + displacement[1]]
    resampled = ndimage.map_coordinates(
        image.astype(np.float64), points, order=1, mode="grid-constant", cval=0.0
    )
    return np.rint(resampled).astype(np.uint8)


def test_distortion_is_scipys_to_the_pixel(mnist):
    images = mnist["train_images"][:200]
    keys = np.array([schema.example_key("train", i) for i in range(200)], object)
    fields = augment.random_fields(keys, copy=1, seed=42)
    ours = augment.distort(images[..., None], fields)[..., 0]
    theirs = np.stack(
        [_reference(image, field) for image, field in zip(images, fields, strict=True)]
    )
    np.testing.assert_array_equal(ours, theirs)


def test_a_copy_depends_on_its_key_seed_and_number_only(mnist):
    images = mnist["train_images"][:6, ..., None]
    keys = np.array([schema.example_key("train", i) for i in range(6)], object)
    batch = codec.Examples(keys, images, np.arange(6))
    whole = augment.augmented_copy(batch, copy=2, seed=5)
    halves = [
        augment.augmented_copy(batch.take(m), copy=2, seed=5)
        for m in (np.arange(6) < 2, np.arange(6) >= 2)
    ]
    np.testing.assert_array_equal(whole.images, np.concatenate([h.images for h in halves]))
    assert whole.keys.tolist() == [schema.copy_key(key, 2) for key in keys]
    assert whole.labels.tolist() == list(range(6))
    for other in (
        augment.augmented_copy(batch, copy=1, seed=5),
        augment.augmented_copy(batch, copy=2, seed=6),
    ):
        assert not np.array_equal(other.images, whole.images)

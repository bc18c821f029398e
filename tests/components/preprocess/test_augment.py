"""The elastic distortion against scipy's own Gaussian filter and bilinear resampling."""

import numpy as np
import pytest
from scipy import ndimage

from components.preprocess import augment
from pipeline import codec, schema
from tests.support.records import PETS, random_examples


def _reference(
    image: np.ndarray, field: np.ndarray, sigma: float = augment.SIGMA, alpha: float = augment.ALPHA
) -> np.ndarray:
    """Simard et al.'s distortion of one [height, width] channel, as scipy.ndimage writes it:
    smooth each axis's random displacements with a Gaussian (zeros beyond the edges), scale
    by alpha, resample bilinearly with zeros outside the image."""
    displacement = [alpha * ndimage.gaussian_filter(axis, sigma, mode="constant") for axis in field]
    grid = np.indices(image.shape, dtype=np.float64)
    points = [grid[0] + displacement[0], grid[1] + displacement[1]]
    resampled = ndimage.map_coordinates(
        image.astype(np.float64), points, order=1, mode="grid-constant", cval=0.0
    )
    return np.rint(resampled).astype(np.uint8)


def _keys(n: int) -> np.ndarray:
    return np.array([schema.example_key("train", i) for i in range(n)], object)


def test_distortion_is_scipys_to_the_pixel(mnist):
    images = mnist["train_images"][:200]
    fields = augment.random_fields(_keys(200), copy=1, seed=42, size=(28, 28))
    ours = augment.distort(images[..., None], fields)[..., 0]
    theirs = np.stack(
        [_reference(image, field) for image, field in zip(images, fields, strict=True)]
    )
    np.testing.assert_array_equal(ours, theirs)


def test_the_papers_values_are_for_mnists_side_and_scale_with_the_shorter_side():
    assert augment.sized(28, 28) == (augment.SIGMA, augment.ALPHA)
    assert augment.sized(56, 100) == (2 * augment.SIGMA, 2 * augment.ALPHA)
    assert augment.sized(12, 10) == augment.sized(10, 40)


def test_an_rgb_image_of_another_size_is_scipys_channel_by_channel_along_one_field():
    _, images, _ = random_examples(PETS, "train", 20, seed=3)
    fields = augment.random_fields(_keys(20), copy=1, seed=42, size=(PETS.height, PETS.width))
    assert fields.shape == (20, 2, PETS.height, PETS.width)
    ours = augment.distort(images, fields)
    assert ours.shape == images.shape and ours.dtype == np.uint8
    sigma, alpha = augment.sized(PETS.height, PETS.width)
    theirs = np.stack(
        [
            np.stack([_reference(image[..., c], field, sigma, alpha) for c in range(3)], -1)
            for image, field in zip(images, fields, strict=True)
        ]
    )
    np.testing.assert_array_equal(ours, theirs)
    # A grey image copied into three channels stays grey: the channels move together.
    grey = np.repeat(images[..., :1], 3, axis=-1)
    moved = augment.distort(grey, fields)
    np.testing.assert_array_equal(moved[..., 0], moved[..., 2])
    np.testing.assert_array_equal(moved[..., :1], augment.distort(images[..., :1], fields))
    assert not np.array_equal(moved, grey)


@pytest.mark.parametrize("data", ["mnist", "pets"])
def test_a_copy_depends_on_its_key_seed_and_number_only(mnist, data):
    if data == "mnist":
        images = mnist["train_images"][:6, ..., None]
    else:
        images = random_examples(PETS, "train", 6)[1]
    keys = _keys(6)
    batch = codec.Examples(keys, images, np.arange(6))
    whole = augment.augmented_copy(batch, copy=2, seed=5)
    assert whole.images.shape == images.shape and whole.images.dtype == np.uint8
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

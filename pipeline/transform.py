"""The pixel transform, defined once for both runtimes: numpy (preprocess, on Beam's
workers) and TensorFlow (the serving graph), so training and serving cannot drift apart.

Raw pixels are uint8 in [0, 255]; the model sees float32 in [0, 1], each value x / 255
rounded once to float32. tests/pipeline/test_transform.py holds the two runtimes to the
same bytes for all 256 inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_PIXEL = 255


def scale_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [0, 1], in numpy."""
    scaled = images.astype(np.float32)
    scaled /= np.float32(MAX_PIXEL)
    return scaled


def scale_pixels_tf(images: Any) -> Any:
    """The same transform as a TensorFlow op, for graphs (uint8 tensor -> float32).

    A lookup in the numpy transform's table of all 256 values, not a division: TensorFlow's
    float32 division by a constant is compiled to a multiplication by its reciprocal, which
    differs from x / 255 in the last bit for 126 of the 256 values.
    """
    import tensorflow as tf  # only graph builders pay for TensorFlow; preprocess never does

    table = tf.constant(scale_pixels(np.arange(MAX_PIXEL + 1, dtype=np.uint8)))
    return tf.gather(table, tf.cast(images, tf.int32))


def unscale_pixels(scaled: np.ndarray) -> np.ndarray:
    """The inverse, float32 [0, 1] -> uint8: exact for anything scale_pixels made."""
    return np.round(scaled * MAX_PIXEL).astype(np.uint8)

import numpy as np
import tensorflow as tf

from pipeline import transform


def test_numpy_and_tensorflow_scale_every_value_to_the_same_float32():
    every = np.arange(256, dtype=np.uint8)
    in_numpy = transform.scale_pixels(every)
    in_graph = tf.function(transform.scale_pixels_tf)(tf.constant(every)).numpy()
    assert in_numpy.dtype == in_graph.dtype == np.float32
    assert in_numpy.tobytes() == in_graph.tobytes()
    assert in_numpy[0] == 0.0 and in_numpy[255] == 1.0
    # x / 255 rounded once: the nearest float32 to the exact quotient, checked in float64.
    exact = every.astype(np.float64) / 255
    assert np.all(np.abs(in_numpy - exact) <= np.spacing(in_numpy.astype(np.float32)) / 2)


def test_unscale_inverts_scale_exactly():
    every = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(transform.unscale_pixels(transform.scale_pixels(every)), every)

import hashlib

import numpy as np
import pytest
import tensorflow as tf

from components.evaluate import export, lite, serving
from pipeline.errors import PipelineError
from tests.support.records import MNIST


def test_litert_gives_the_saved_models_digit_for_every_test_image(serving_dir, mnist):
    images = mnist["test_images"]
    served = tf.saved_model.load(str(serving_dir)).signatures["serving_default"]
    expected = served(images=tf.constant(images))["probabilities"].numpy()
    model = lite.LiteModel(serving_dir / serving.TFLITE_MODEL)
    ours = np.concatenate([model(images[i : i + 1000]) for i in range(0, len(images), 1000)])
    np.testing.assert_array_equal(ours.argmax(1), expected.argmax(1))
    gap = float(np.abs(ours - expected).max())
    assert gap < 1e-5, f"largest probability gap {gap}"  # sums in another order, not a drift


def test_one_image_or_many_the_same_answer(serving_dir, mnist):
    model = lite.LiteModel(serving_dir / serving.TFLITE_MODEL)
    images = mnist["test_images"][:64]
    together = model(images)
    np.testing.assert_array_equal(
        np.concatenate([model(images[i : i + 1]) for i in range(64)]), together
    )


def test_the_flatbuffer_is_byte_stable(trained_model):
    import keras

    model = keras.models.load_model(trained_model)
    first, second = export.tflite_bytes(model, MNIST), export.tflite_bytes(model, MNIST)
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


def test_a_damaged_flatbuffer_is_one_line(tmp_path):
    (tmp_path / "model.tflite").write_bytes(b"not a flatbuffer at all")
    with pytest.raises(PipelineError, match=r"cannot load the TFLite model .*model\.tflite \("):
        lite.LiteModel(tmp_path / "model.tflite")

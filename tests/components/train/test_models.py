import dataclasses

import keras
import numpy as np
import pytest

from components.train import models
from pipeline.params import CNN
from tests.support.records import default_params


@pytest.fixture
def params():
    return dataclasses.replace(default_params().train, epochs=2, batch_size=100)


def test_default_model_is_the_reference_mlp():
    model = models.build_model(default_params().train, steps_per_epoch=271)
    layers = model.layers
    assert model.input_shape == (None, 28, 28, 1)
    assert isinstance(layers[0], keras.layers.Flatten)
    dense = [(layer.units, layer.activation.__name__) for layer in layers[1:]]
    assert dense == [(200, "relu"), (200, "tanh"), (200, "tanh"), (10, "softmax")]
    # Weights + biases of 784->200->200->200->10.
    assert model.count_params() == (784 * 200 + 200) + 2 * (200 * 200 + 200) + (200 * 10 + 10)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.loss == "sparse_categorical_crossentropy"


def test_hidden_layer_size_and_learning_rate_come_from_params(params):
    small = dataclasses.replace(params, hidden_layer_size=32, learning_rate=0.01)
    model = models.build_model(small, steps_per_epoch=271)
    assert [layer.units for layer in model.layers[1:]] == [32, 32, 32, 10]
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_the_cnns_learning_rate_decays_to_zero_over_the_run(params):
    schedule = models._learning_rate(dataclasses.replace(params, model=CNN), total_steps=20)
    assert float(schedule(0)) == pytest.approx(params.learning_rate)
    assert float(schedule(10)) == pytest.approx(params.learning_rate / 2)  # cosine: halfway
    assert float(schedule(20)) == pytest.approx(0.0, abs=1e-9)
    assert models._learning_rate(params, total_steps=20) == params.learning_rate  # the MLP


def test_cnn_shifts_digits_in_training_only(params):
    model = models.build_model(dataclasses.replace(params, model=CNN), steps_per_epoch=271)
    shift = model.layers[0]
    assert isinstance(shift, keras.layers.RandomTranslation)
    digits = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(shift(digits, training=False), digits)
    assert not np.array_equal(shift(digits, training=True), digits)


def test_every_model_params_yaml_names_can_be_built(params):
    from pipeline.params import MODELS

    assert set(models.ARCHITECTURES) == set(MODELS)
    for name in MODELS:
        built = models.build_model(dataclasses.replace(params, model=name), steps_per_epoch=1)
        assert built.output_shape == (None, 10)

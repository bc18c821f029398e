import dataclasses

import keras
import numpy as np
import pytest

from components.train import models
from pipeline import schema
from pipeline.errors import PipelineError
from pipeline.params import CNN, MLP
from tests.support.records import MNIST, PETS, SCHEMAS, default_params


@pytest.fixture
def params():
    return dataclasses.replace(default_params().train, epochs=2, batch_size=100)


def test_default_model_is_the_reference_mlp():
    model = models.build_model(default_params().train, MNIST, steps_per_epoch=271)
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
    model = models.build_model(small, MNIST, steps_per_epoch=271)
    assert [layer.units for layer in model.layers[1:]] == [32, 32, 32, 10]
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_the_cnns_learning_rate_decays_to_zero_over_the_run(params):
    schedule = models._learning_rate(dataclasses.replace(params, model=CNN), total_steps=20)
    assert float(schedule(0)) == pytest.approx(params.learning_rate)
    assert float(schedule(10)) == pytest.approx(params.learning_rate / 2)  # cosine: halfway
    assert float(schedule(20)) == pytest.approx(0.0, abs=1e-9)
    assert models._learning_rate(params, total_steps=20) == params.learning_rate  # the MLP


@pytest.mark.parametrize(
    ("epochs", "min_steps", "steps_per_epoch", "planned"),
    [
        (5, 0, 270, 5),  # MNIST's defaults: min_steps off
        (5, 1000, 270, 5),  # MNIST already holds 1350 steps: nothing raised
        (5, 1000, 26, 39),  # 3 x 270 images in batches of 32: 38 epochs are 988 steps
        (5, 1000, 25, 40),  # exactly: 40 x 25 = 1000
        (50, 1000, 26, 50),  # epochs beyond the budget stay
        (1, 7, 1, 7),
    ],
)
def test_min_steps_raises_the_epochs_to_hold_them(
    params, epochs, min_steps, steps_per_epoch, planned
):
    raised = dataclasses.replace(params, epochs=epochs, min_steps=min_steps)
    assert models.planned_epochs(raised, steps_per_epoch) == planned


def test_the_cnns_schedule_spans_the_epochs_min_steps_raised(params):
    cnn = dataclasses.replace(params, model=CNN, epochs=2, min_steps=100)
    optimizer = models.build_model(cnn, PETS, steps_per_epoch=10).optimizer
    assert optimizer.get_config()["learning_rate"]["config"]["decay_steps"] == 100  # not 20


def test_cnn_shifts_digits_in_training_only(params):
    model = models.build_model(dataclasses.replace(params, model=CNN), MNIST, steps_per_epoch=271)
    shift = model.layers[0]
    assert isinstance(shift, keras.layers.RandomTranslation)
    digits = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(shift(digits, training=False), digits)
    assert not np.array_equal(shift(digits, training=True), digits)


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
def test_every_model_params_yaml_names_takes_the_schemas_images_and_gives_its_classes(params, data):
    from pipeline.params import MODELS

    assert set(models.ARCHITECTURES) == set(MODELS)
    images = np.random.default_rng(0).random((3, *data.image_shape)).astype(np.float32)
    for name in MODELS:
        built = models.build_model(dataclasses.replace(params, model=name), data, steps_per_epoch=1)
        assert built.input_shape == (None, *data.image_shape)
        assert built.output_shape == (None, data.num_classes)
        probabilities = built.predict_on_batch(images)
        assert probabilities.shape == (3, data.num_classes)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_mlps_first_layer_takes_every_pixel_value_of_every_channel(params):
    small = dataclasses.replace(params, hidden_layer_size=8)
    model = models.build_model(small, PETS, steps_per_epoch=1)
    assert model.get_layer("hidden_1").kernel.shape == (12 * 10 * 3, 8)


def test_the_cnn_takes_images_down_to_what_its_poolings_can_halve_twice(params):
    small = dataclasses.replace(params, model=CNN, hidden_layer_size=8)
    four = schema.Schema(4, 9, 1, "uint8", ("a", "b"), schema.RESIZE)
    assert models.build_model(small, four, steps_per_epoch=1).output_shape == (None, 2)
    three = dataclasses.replace(four, height=3)
    with pytest.raises(
        PipelineError, match=r"train.model cnn needs images of at least 4x4, not 3x9"
    ):
        models.build_model(small, three, steps_per_epoch=1)
    # The MLP has no such floor.
    mlp = dataclasses.replace(small, model=MLP)
    assert models.build_model(mlp, three, steps_per_epoch=1).output_shape == (None, 2)

"""The models train builds: the architectures of `train.model`, compiled the same way.

`build_model(params)` is apart from training so tests and the bench build the very model
the stage trains.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from pipeline.errors import PipelineError
from pipeline.params import CNN, MLP, TrainParams
from pipeline.schema import Schema

# Batches per call into the compiled train step: fewer Python round trips
# (docs/performance.md). The updates, and so the weights, are the same as one step per call
# (tested), so this is not a param. Under a tf.distribute strategy Keras 3.15's multi-step
# loop fails ("You must feed a value for placeholder tensor"): there it stays 1.
STEPS_PER_EXECUTION = 50


def _mlp(params: TrainParams, data: Schema) -> keras.Model:
    size = params.hidden_layer_size
    return keras.Sequential(
        [
            keras.Input(shape=data.image_shape, name="image"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(size, activation="relu", name="hidden_1"),
            keras.layers.Dense(size, activation="tanh", name="hidden_2"),
            keras.layers.Dense(size, activation="tanh", name="hidden_3"),
            keras.layers.Dense(data.num_classes, activation="softmax", name="probabilities"),
        ],
        name=MLP,
    )


# Batch norm's inference statistics average the last ~1/(1 - momentum) batches. Keras's
# 0.99 lags a net still changing fast: a 1-epoch CNN scored near chance on test while
# training well. 0.95 keeps short runs usable at no cost at 5 epochs (docs/design.md).
_NORM_MOMENTUM = 0.95


def _conv_block(filters: int, name: str) -> list[keras.layers.Layer]:
    return [
        keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv"),
        keras.layers.BatchNormalization(momentum=_NORM_MOMENTUM, name=f"{name}_norm"),
        keras.layers.Activation("relu", name=f"{name}_relu"),
        keras.layers.MaxPooling2D(name=f"{name}_pool"),
    ]


_CNN_SMALLEST = 4  # pixels a side: its two poolings halve it twice


def _cnn(params: TrainParams, data: Schema) -> keras.Model:
    if min(data.height, data.width) < _CNN_SMALLEST:
        raise PipelineError(
            f"train.model cnn needs images of at least {_CNN_SMALLEST}x{_CNN_SMALLEST}, not "
            f"{data.height}x{data.width}; set train.model: mlp, or data.image_size larger"
        )
    # Batch norm instead of dropout: in the 5 default epochs dropout leaves the net underfit.
    # Random shifts of up to 10% (2.8 px), in training only, help a little; rotations on
    # top did not (docs/design.md).
    return keras.Sequential(
        [
            keras.Input(shape=data.image_shape, name="image"),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", name="shift"),
            *_conv_block(32, "block_1"),
            *_conv_block(64, "block_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(params.hidden_layer_size, use_bias=False, name="hidden"),
            keras.layers.BatchNormalization(momentum=_NORM_MOMENTUM, name="hidden_norm"),
            keras.layers.Activation("relu", name="hidden_relu"),
            keras.layers.Dense(data.num_classes, activation="softmax", name="probabilities"),
        ],
        name=CNN,
    )


ARCHITECTURES = {MLP: _mlp, CNN: _cnn}  # by `train.model`


def _learning_rate(
    params: TrainParams, total_steps: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    # The MLP is the reference notebook's: Adam at a constant rate. The CNN decays the rate
    # to zero over the run (cosine), which settles it at a better optimum in few epochs.
    if params.model == MLP:
        return params.learning_rate
    return keras.optimizers.schedules.CosineDecay(params.learning_rate, total_steps)


def planned_epochs(params: TrainParams, steps_per_epoch: int) -> int:
    """`train.epochs`, raised if need be to hold `train.min_steps` gradient steps."""
    return max(params.epochs, math.ceil(params.min_steps / max(steps_per_epoch, 1)))


def strategy(name: str) -> tf.distribute.Strategy:
    """The `train.distribute` strategy; "mirrored" replicates over every local GPU, else CPU."""
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    return tf.distribute.get_strategy()


def build_model(params: TrainParams, data: Schema, *, steps_per_epoch: int) -> keras.Model:
    """Builds and compiles the `params.model` architecture (Adam, sparse cross-entropy).

    Args:
        params: the `train` section of params.yaml.
        data: the dataset's schema: the model's input shape and its classes.
        steps_per_epoch: batches per epoch, for the CNN's learning-rate schedule over the
            run's planned_epochs.
    """
    model = ARCHITECTURES[params.model](params, data)
    rate = _learning_rate(params, steps_per_epoch * planned_epochs(params, steps_per_epoch))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate, name="adam"),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION if params.distribute == "none" else 1,
    )
    # Outside a tf.distribute scope Keras 3.15 creates the optimizer's and the metrics'
    # variables inside the first traced train step, and a tf.function that creates variables
    # is traced twice. Creating them now, as Keras itself does under a strategy, traces the
    # step once, with the same weights (the saved model's bytes are equal). A private Keras
    # method: docs/upgrading.md, and a test that says so when it goes.
    model._symbolic_build(
        data_batch=(
            keras.KerasTensor((None, *data.image_shape), "float32"),
            keras.KerasTensor((None,), "int64"),
        )
    )
    return model

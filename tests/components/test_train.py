import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from components import models
from components import train as tr
from tests.support import ROOT
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


def test_train_saves_a_loadable_model_and_logs_epochs(tmp_path, small_processed_dir, params):
    trained = tr.train(
        data_dir=small_processed_dir,
        model_path=tmp_path / "models.keras",
        params=params,
        live_dir=tmp_path / "live",
    )
    model = trained.model
    assert trained.steps_per_s > 0
    loaded = keras.models.load_model(tmp_path / "models.keras", safe_mode=True)
    for saved, weights in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, weights)
    live = json.loads((tmp_path / "live" / "metrics.json").read_text())
    # The headline values only: `step` would be train.epochs - 1, a param already.
    assert live.keys() == {"train", "val"}
    assert live["train"].keys() == live["val"].keys() == {"accuracy", "loss"}
    for split in ("train", "val"):
        tsv = (tmp_path / "live" / "plots" / "metrics" / split / "accuracy.tsv").read_text()
        rows = [line.split("\t") for line in tsv.splitlines()]
        # One row per epoch, under the header: the x and y of the accuracy plot.
        assert rows[0] == ["step", "accuracy"]
        assert [int(row[0]) for row in rows[1:]] == list(range(params.epochs))
        assert float(rows[-1][1]) == pytest.approx(live[split]["accuracy"])
    # 1800 real digits, 2 epochs: far above the 10% of guessing, so it learned.
    assert live["val"]["accuracy"] > 0.7


def test_training_is_deterministic(tmp_path, small_processed_dir, params):
    first = tr.train(data_dir=small_processed_dir, model_path=tmp_path / "a.keras", params=params)
    second = tr.train(data_dir=small_processed_dir, model_path=tmp_path / "b.keras", params=params)
    for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    other = tr.train(
        data_dir=small_processed_dir,
        model_path=tmp_path / "c.keras",
        params=dataclasses.replace(params, seed=params.seed + 1),
    )
    assert not np.array_equal(first.model.get_weights()[0], other.model.get_weights()[0])


def test_streaming_the_splits_trains_the_same_weights(tmp_path, small_processed_dir, params):
    # train.cache_mib 0: nothing fits, both splits are streamed from their shards.
    cached = tr.train(data_dir=small_processed_dir, model_path=tmp_path / "a.keras", params=params)
    streamed = tr.train(
        data_dir=small_processed_dir,
        model_path=tmp_path / "b.keras",
        params=dataclasses.replace(params, cache_mib=0),
    )
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    assert len(cached.model.get_weights()) == len(streamed.model.get_weights())


def test_steps_per_execution_does_not_change_the_weights(
    tmp_path, small_processed_dir, params, monkeypatch
):
    data = small_processed_dir
    batched = tr.train(data_dir=data, model_path=tmp_path / "a.keras", params=params).model
    monkeypatch.setattr(models, "STEPS_PER_EXECUTION", 1)
    stepwise = tr.train(data_dir=data, model_path=tmp_path / "b.keras", params=params).model
    assert batched.steps_per_execution > 1
    for a, b in zip(batched.get_weights(), stepwise.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_saved_model_file_is_byte_stable(tmp_path, small_processed_dir, params):
    params = dataclasses.replace(params, epochs=1)
    tr.train(data_dir=small_processed_dir, model_path=tmp_path / "a.keras", params=params)
    tr.train(data_dir=small_processed_dir, model_path=tmp_path / "b.keras", params=params)
    first = (tmp_path / "a.keras").read_bytes()
    assert first == (tmp_path / "b.keras").read_bytes()
    keras.models.load_model(tmp_path / "a.keras", safe_mode=True)


def test_mirrored_strategy_trains_over_two_logical_cpus(tmp_path, small_processed_dir):
    # Logical devices must be configured before TensorFlow starts: use a fresh process.
    script = textwrap.dedent(f"""
        import dataclasses, json
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        two = [tf.config.LogicalDeviceConfiguration()] * 2
        tf.config.set_logical_device_configuration(cpu, two)
        from components import models, train as tr
        from pipeline.params import load_params
        params = load_params("params.yaml").train
        params = dataclasses.replace(params, distribute="mirrored", epochs=2)
        replicas = models.strategy("mirrored").num_replicas_in_sync
        tr.train(data_dir={str(small_processed_dir)!r}, model_path={str(tmp_path / "m.keras")!r},
                 params=params, live_dir={str(tmp_path / "live")!r})
        print(json.dumps({{"replicas": replicas}}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"replicas": 2}
    live = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert live["val"]["accuracy"] > 0.7


def test_cnn_shifts_digits_in_training_only(params):
    model = models.build_model(dataclasses.replace(params, model="cnn"), steps_per_epoch=271)
    shift = model.layers[0]
    assert isinstance(shift, keras.layers.RandomTranslation)
    digits = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(shift(digits, training=False), digits)
    assert not np.array_equal(shift(digits, training=True), digits)


def test_the_cnn_trains(tmp_path, small_processed_dir, params):
    # Two short epochs on 1,800 digits: that it learns, not how well (docs/performance.md
    # has the CNN's accuracy on all of MNIST, a benchmark's job). Batches of 50 give batch
    # norm's inference statistics enough steps to follow the weights.
    cnn = dataclasses.replace(params, model="cnn", epochs=2, batch_size=50)
    tr.train(
        data_dir=small_processed_dir,
        model_path=tmp_path / "m.keras",
        params=cnn,
        live_dir=tmp_path / "live",
    )
    live = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert live["val"]["accuracy"] > 0.3, live  # three times chance

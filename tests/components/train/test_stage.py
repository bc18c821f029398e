import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from components.train import models
from components.train.stage import Paths, seed_process, train
from pipeline.params import CNN
from tests.support import ROOT
from tests.support.records import PETS, default_params


@pytest.fixture
def params():
    return dataclasses.replace(default_params().train, epochs=2, batch_size=100)


@pytest.fixture
def data(small_processed_dir, mnist_schema) -> tuple[Path, Path]:
    """The processed slice of MNIST, and its schema."""
    return small_processed_dir, mnist_schema


def _train(folder: Path, data: tuple[Path, Path], params) -> tuple[keras.Model, Path]:
    """Trains as the stage's entry does: the process seeded, then train()."""
    folder.mkdir(exist_ok=True)
    processed, schema_path = data
    paths = Paths(
        data=str(processed),
        schema=str(schema_path),
        model=str(folder / "model.keras"),
        live=str(folder / "live"),
    )
    seed_process(params.seed)
    return train(paths, params).model, folder


def test_train_saves_a_loadable_model_and_logs_epochs(tmp_path, data, params):
    model, out = _train(tmp_path / "a", data, params)
    loaded = keras.models.load_model(out / "model.keras", safe_mode=True)
    for saved, weights in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, weights)
    live = json.loads((out / "live" / "metrics.json").read_text())
    # The headline values only: `step` would be train.epochs - 1, a param already.
    assert live.keys() == {"train", "val"}
    assert live["train"].keys() == live["val"].keys() == {"accuracy", "loss"}
    for split in ("train", "val"):
        tsv = (out / "live" / "plots" / "metrics" / split / "accuracy.tsv").read_text()
        rows = [line.split("\t") for line in tsv.splitlines()]
        # One row per epoch, under the header: the x and y of the accuracy plot.
        assert rows[0] == ["step", "accuracy"]
        assert [int(row[0]) for row in rows[1:]] == list(range(params.epochs))
        assert float(rows[-1][1]) == pytest.approx(live[split]["accuracy"])
    # 1800 real digits, 2 epochs: far above the 10% of guessing, so it learned.
    assert live["val"]["accuracy"] > 0.7


def test_training_is_deterministic(tmp_path, data, params):
    _train(tmp_path / "a", data, params)
    _train(tmp_path / "b", data, params)
    _train(tmp_path / "c", data, dataclasses.replace(params, seed=params.seed + 1))
    files = {name: (tmp_path / name / "model.keras").read_bytes() for name in "abc"}
    assert files["a"] == files["b"] != files["c"]


def test_streaming_the_splits_trains_the_same_weights(tmp_path, data, params):
    # train.cache_mib 0: nothing fits, both splits are streamed from their shards.
    _train(tmp_path / "a", data, params)
    _train(tmp_path / "b", data, dataclasses.replace(params, cache_mib=0))
    assert (tmp_path / "a/model.keras").read_bytes() == (tmp_path / "b/model.keras").read_bytes()


def test_steps_per_execution_does_not_change_the_weights(tmp_path, data, params, monkeypatch):
    batched, _ = _train(tmp_path / "a", data, params)
    monkeypatch.setattr(models, "STEPS_PER_EXECUTION", 1)
    stepwise, _ = _train(tmp_path / "b", data, params)
    assert batched.steps_per_execution > 1 == stepwise.steps_per_execution
    for a, b in zip(batched.get_weights(), stepwise.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_mirrored_strategy_trains_over_two_logical_cpus(
    tmp_path, small_processed_dir, mnist_schema
):
    # Logical devices must be configured before TensorFlow starts: use a fresh process.
    script = textwrap.dedent(f"""
        import dataclasses, json
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        two = [tf.config.LogicalDeviceConfiguration()] * 2
        tf.config.set_logical_device_configuration(cpu, two)
        from components.train import models
        from components.train.stage import Paths, seed_process, train
        from pipeline.params import load_params
        params = load_params("params.yaml").train
        params = dataclasses.replace(params, distribute="mirrored", epochs=2)
        replicas = models.strategy("mirrored").num_replicas_in_sync
        seed_process(params.seed)
        out = {str(tmp_path)!r}
        data, schema = {str(small_processed_dir)!r}, {str(mnist_schema)!r}
        train(Paths(data, schema, out + "/m.keras", out + "/live"), params)
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


def test_the_cnn_trains(tmp_path, data, params):
    # Two short epochs on 1,800 digits: that it learns, not how well (docs/performance.md
    # has the CNN's accuracy on all of MNIST, a benchmark's job). Batches of 50 give batch
    # norm's inference statistics enough steps to follow the weights.
    cnn = dataclasses.replace(params, model=CNN, epochs=2, batch_size=50)
    _, out = _train(tmp_path / "a", data, cnn)
    live = json.loads((out / "live" / "metrics.json").read_text())
    assert live["val"]["accuracy"] > 0.3, live  # three times chance


@pytest.mark.parametrize("model", ["mlp", CNN])
def test_a_model_of_the_schemas_shape_learns_its_classes(
    tmp_path, pets_processed_dir, pets_schema, params, model
):
    # 360 RGB images of four classes, each class its own brightness: that it learns, well
    # above the 25% of guessing, not how well (batch norm's statistics lag in so few steps).
    params = dataclasses.replace(params, model=model, epochs=3, batch_size=20)
    trained, out = _train(tmp_path / "a", (pets_processed_dir, pets_schema), params)
    assert trained.input_shape == (None, *PETS.image_shape)
    assert trained.output_shape == (None, PETS.num_classes)
    live = json.loads((out / "live" / "metrics.json").read_text())
    assert live["val"]["accuracy"] > 0.4, live

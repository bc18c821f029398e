import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from components.train import models
from components.train.stage import Paths, seed_process, train
from pipeline import schema, stats
from pipeline.params import CNN
from tests.support import ROOT
from tests.support.records import (
    LOOSE_LIMITS,
    PETS,
    default_params,
    random_examples,
    schema_file,
    write_records,
)
from tests.support.stages import Result, run_stage


@pytest.fixture
def params():
    return _params()


def _params():
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


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_processed_dir, mnist_schema) -> tuple[keras.Model, Path]:
    """The model `params` trains on `data`, and its folder: the run the tests compare with."""
    folder = tmp_path_factory.mktemp("trained")
    return _train(folder / "a", (small_processed_dir, mnist_schema), _params())


def test_train_saves_a_loadable_model_and_logs_epochs(trained, params):
    model, out = trained
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


def test_training_is_deterministic(tmp_path, data, params, trained):
    _train(tmp_path / "b", data, params)  # the same run again, after other tests ran
    _train(tmp_path / "c", data, dataclasses.replace(params, seed=params.seed + 1))
    files = {name: (tmp_path / name / "model.keras").read_bytes() for name in "bc"}
    files["a"] = (trained[1] / "model.keras").read_bytes()
    assert files["a"] == files["b"] != files["c"]


def test_streaming_the_splits_trains_the_same_weights(tmp_path, data, params, trained):
    # train.cache_mib 0: nothing fits, both splits are streamed from their shards.
    _train(tmp_path / "b", data, dataclasses.replace(params, cache_mib=0))
    assert (trained[1] / "model.keras").read_bytes() == (tmp_path / "b/model.keras").read_bytes()


def test_steps_per_execution_does_not_change_the_weights(
    tmp_path, data, params, monkeypatch, trained
):
    batched, _ = trained
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


@pytest.fixture(scope="module")
def noise_processed_dir(tmp_path_factory) -> tuple[Path, Path]:
    """Preprocess's output for 400 random PETS images whose labels go round the classes
    whatever the pixels: nothing to learn, so validation scores chance however long the
    model trains. And its schema."""
    from components.preprocess.stage import Paths as PreprocessPaths
    from components.preprocess.stage import preprocess

    folder = tmp_path_factory.mktemp("noise")
    raw = folder / "raw"
    for split, n, seed in ((schema.TRAIN, 400, 0), (schema.TEST, 40, 1)):
        write_records(raw, split, *random_examples(PETS, split, n, seed))
    schema_path = schema_file(folder, PETS)
    paths = PreprocessPaths(raw=str(raw), schema=str(schema_path), out=str(folder / "processed"))
    preprocess(paths, default_params().preprocess, LOOSE_LIMITS)
    return folder / "processed", schema_path


def _run_train(workdir: Path, data: tuple[Path, Path], **train: object) -> Result:
    """The train stage's command, as DVC runs it, with params.yaml's train section changed."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update(train)
    (workdir / "p.yaml").write_text(yaml.safe_dump(params))
    processed, schema_path = data
    paths = Paths(str(processed), str(schema_path), str(workdir / "m.keras"), str(workdir / "live"))
    result = run_stage("train", paths, cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_a_run_at_chance_says_so_in_one_line_with_its_steps(tmp_path, noise_processed_dir):
    result = _run_train(tmp_path, noise_processed_dir, epochs=3, batch_size=50)
    steps = 3 * math.ceil(stats.read_stats(noise_processed_dir[0])["train"].records / 50)
    said = [line for line in result.stderr.splitlines() if "is chance" in line]
    assert len(said) == 1, result.stderr
    assert (
        " WARNING " in said[0]
        and f"after {steps} gradient steps: try docs/own-data.md's small-folder recipe" in said[0]
    )
    assert len(said[0]) <= 120, said[0]


def test_a_run_that_learned_says_nothing_of_chance(tmp_path, data):
    result = _run_train(tmp_path, data, epochs=2, batch_size=100)
    val = json.loads((tmp_path / "live" / "metrics.json").read_text())["val"]["accuracy"]
    assert val > 0.7  # it learned: MNIST digits, far above the 10% of guessing
    assert "chance" not in result.stderr


def test_min_steps_raises_the_epochs_and_says_so(tmp_path, data):
    # 1,800 training digits in batches of 100: 18 steps an epoch, so 40 steps take 3 epochs.
    result = _run_train(tmp_path, data, epochs=1, batch_size=100, min_steps=40)
    assert "train.epochs 1 raised to 3: train.min_steps 40 at 18 steps an epoch" in result.stderr
    tsv = (tmp_path / "live" / "plots" / "metrics" / "val" / "accuracy.tsv").read_text()
    assert len(tsv.splitlines()) == 1 + 3  # the header, and a row per epoch run

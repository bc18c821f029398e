"""InfraValidator: a staged version that does not load, or answers otherwise than scoring,
is not pushed; the serving folder is untouched; the user reads one line."""

import csv
import dataclasses
import logging
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from components.evaluate import export, infra, serving
from components.evaluate.stage import evaluate
from pipeline import artifacts, boundary, dataset, logs, schema, transform
from pipeline.errors import PipelineError
from pipeline.reports import Score
from tests.support.records import MNIST, PETS, default_params
from tests.support.stages import evaluate_paths, snapshot


def _record(model: Path) -> serving.PushRecord:
    return serving.PushRecord(serving.file_sha256(model), Score(accuracy=0.9, loss=0.3))


def _truncate_flatbuffer(staged: Path) -> None:
    tflite = staged / serving.TFLITE_MODEL
    tflite.write_bytes(tflite.read_bytes()[: tflite.stat().st_size // 3])


def _other_schema(staged: Path) -> None:
    # PETS: 12x10x3 images of 4 classes, for a model of 28x28 digits in 10.
    schema.write_schema(staged / serving.SCHEMA, PETS)


def _no_variables(staged: Path) -> None:
    # LiteRT answers from model.tflite alone; TF Serving loads the SavedModel, weights and all.
    shutil.rmtree(staged / "variables")


@pytest.fixture
def damaging(monkeypatch):
    """Damages the staged folder with the given function just before InfraValidator reads
    it, after export wrote every file: the files about to be renamed into place. Returns
    the staged folders it saw."""
    real_validate = infra.validate

    def damage_with(damage):
        seen = []

        def damaged_then_validated(staged, target, probe):
            seen.append(staged)
            damage(staged)
            real_validate(staged, target, probe)

        monkeypatch.setattr(infra, "validate", damaged_then_validated)
        return seen

    return damage_with


def _one_line(error: PipelineError, name: str, project: Path, monkeypatch) -> str:
    """The line the boundary shows for `error`, checked to fit 120 columns with its prefix."""
    monkeypatch.setenv("DVC_ROOT", str(project))
    line = boundary.with_evidence(name, error)
    assert "\n" not in line
    assert len(line) <= logs.message_room(logging.getLogger("pipeline"), logging.ERROR), line
    return line


@pytest.mark.parametrize(
    "damage",
    [_truncate_flatbuffer, _other_schema, _no_variables],
    ids=["broken-flatbuffer", "other-schema", "savedmodel-without-variables"],
)
def test_a_staged_version_that_does_not_load_is_not_pushed(
    tmp_path, trained_model, damaging, monkeypatch, damage
):
    served = tmp_path / "serving"
    model = keras.models.load_model(trained_model)
    export.push(model, served, _record(trained_model), MNIST)  # version 1 serves
    before = snapshot(served)
    checks = damaging(damage)
    with pytest.raises(PipelineError) as raised:
        export.push(model, served, _record(trained_model), MNIST)
    assert len(checks) == 1 and not checks[0].exists()  # the staged folder, removed
    assert sorted(p.name for p in served.iterdir()) == ["1"]
    assert snapshot(served) == before
    line = _one_line(raised.value, "evaluate", tmp_path, monkeypatch)
    said = "InfraValidator: version 2 does not load; not pushed; all of it is in logs/evaluate.log"
    assert line == said
    story = (tmp_path / artifacts.LOGS_DIR / "evaluate.log").read_text()
    expected = {
        _truncate_flatbuffer: "cannot load the TFLite model",
        _other_schema: "do not go",
        _no_variables: "variables",
    }[damage]
    assert expected in story and "`dvc repro` (evaluate)" in story


def test_a_staged_version_answering_otherwise_is_not_pushed(tmp_path, trained_model, monkeypatch):
    served = tmp_path / "serving"
    model = keras.models.load_model(trained_model)
    probe = export.model_probe(model, MNIST)
    assert len(probe.classes) == infra.PROBE_SIZE
    # Scoring's classes, as if the staged files answered two of them otherwise.
    wrong = probe.classes.copy()
    wrong[[3, 7]] = (wrong[[3, 7]] + 1) % MNIST.num_classes
    lying = dataclasses.replace(probe, classes=wrong)
    with pytest.raises(PipelineError) as raised:
        export.push(model, served, _record(trained_model), MNIST, lying)
    assert not served.exists() or list(served.iterdir()) == []
    line = _one_line(raised.value, "mnist-push", tmp_path, monkeypatch)
    assert line.startswith("InfraValidator: version 1 differs on 2 of 16; not pushed")
    story = (tmp_path / artifacts.LOGS_DIR / "mnist-push.log").read_text()
    assert "probe example 3:" in story and "probe example 7:" in story
    # The same push with the classes scoring really gave passes, and serves them.
    export.push(model, served, _record(trained_model), MNIST, probe)
    assert serving.versions(served) == [served / "1"]


def test_the_probe_keeps_the_first_examples_that_name_a_class_clearly():
    images = np.arange(20 * 4, dtype=np.uint8).reshape(20, 2, 2)
    probabilities = np.tile(np.array([[0.1, 0.7, 0.2]], np.float32), (20, 1))
    probabilities[2] = [0.4996, 0.5004, 0.0]  # a near tie: the runtimes may swap it
    probabilities[5] = [0.0, 0.1, 0.9]
    probe = infra.Probe.of(images, probabilities)
    kept = [i for i in range(20) if i != 2][: infra.PROBE_SIZE]
    np.testing.assert_array_equal(probe.images, images[kept])
    assert probe.classes.dtype == np.int64
    assert probe.classes.tolist() == [2 if i == 5 else 1 for i in kept]


def test_evaluate_probes_with_scorings_first_examples_and_classes(
    tmp_path, small_processed_dir, mnist_schema, trained_model, monkeypatch
):
    seen, real_validate = [], infra.validate

    def spied(staged, target, probe):
        seen.append(probe)
        real_validate(staged, target, probe)

    monkeypatch.setattr(infra, "validate", spied)
    params = dataclasses.replace(default_params().evaluate, min_accuracy=0.5)
    paths = evaluate_paths(small_processed_dir, mnist_schema, trained_model, tmp_path)
    assert evaluate(paths, params).blessing.pushed_version == 1
    [probe] = seen
    assert len(probe.images) == infra.PROBE_SIZE
    # The test split as evaluate reads it; the probe leaves out only near ties, so its
    # images are the first ones, in order, and its classes predictions.csv's rows for them.
    data = schema.read_schema(mnist_schema)
    split = dataset.split_input(str(small_processed_dir), schema.TEST, data)
    images, _ = next(iter(dataset.batches(split, batch_size=100)))
    first = transform.unscale_pixels(images.numpy()).reshape(100, -1)
    positions = [
        int(np.flatnonzero((first == image.reshape(-1)).all(axis=1))[0]) for image in probe.images
    ]
    assert positions == sorted(set(positions)) and positions[0] == 0
    with (tmp_path / "reports" / artifacts.PREDICTIONS_FILE).open() as file:
        predicted = [int(row["predicted"]) for row in csv.DictReader(file)]
    assert probe.classes.tolist() == [predicted[i] for i in positions]


def test_evaluate_with_a_staged_version_that_does_not_load_fails_and_keeps_its_reports(
    tmp_path, small_processed_dir, mnist_schema, trained_model, damaging
):
    params = dataclasses.replace(default_params().evaluate, min_accuracy=0.5)
    paths = evaluate_paths(small_processed_dir, mnist_schema, trained_model, tmp_path)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "metrics.json").write_text("an earlier run's\n")
    damaging(_truncate_flatbuffer)
    with pytest.raises(PipelineError, match=r"^InfraValidator: version 1 does not load"):
        evaluate(paths, params)
    # Nothing of this run is recorded: DVC runs evaluate again at the next `dvc repro`.
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["metrics.json"]
    assert (tmp_path / "reports" / "metrics.json").read_text() == "an earlier run's\n"
    assert list((tmp_path / "serving").iterdir()) == []


def test_a_probe_without_a_clear_example_only_loads_and_says_so(tmp_path, trained_model, caplog):
    served = tmp_path / "serving"
    model = keras.models.load_model(trained_model)
    empty = infra.Probe(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64))
    with caplog.at_level(logging.WARNING):
        export.push(model, served, _record(trained_model), MNIST, empty)
    assert serving.versions(served) == [served / "1"]
    assert "no clear example to compare version 1's answers on: loaded only" in caplog.text

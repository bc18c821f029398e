"""Blessing and push: TFX's value and change thresholds, against the model serving now."""

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import keras
import pytest

from components.evaluate import blessing as bl
from components.evaluate import export, serving
from components.evaluate.stage import Paths, evaluate
from pipeline import artifacts
from pipeline.errors import PipelineError
from pipeline.logs import message_room
from pipeline.reports import Baseline, Blessing, Candidate, Score, Thresholds
from tests.support.records import MNIST, PETS, default_params, schema_file, train_model


@pytest.mark.parametrize(
    ("accuracy", "baseline", "verdict"),
    [
        (0.96, None, (False, "value")),  # below min_accuracy, nothing to compare with
        (0.96, 0.95, (False, "value")),  # better than the baseline, still below min_accuracy
        (0.98, None, (True, "value")),  # no baseline: the value threshold alone, as in TFX
        (0.98, 0.99, (True, "change")),  # 0.01 worse: within max_accuracy_drop 0.01
        (0.975, 0.99, (False, "change")),  # 0.015 worse: beyond it
        (0.99, 0.98, (True, "change")),  # better
    ],
)
def test_decide(accuracy, baseline, verdict):
    blessed, check, reason = bl.decide(
        Score(accuracy=accuracy, loss=0.1),
        baseline and Baseline(3, None, Score(accuracy=baseline, loss=0.1)),
        Thresholds(min_accuracy=0.97, max_accuracy_drop=0.01),
    )
    assert (blessed, check) == verdict
    assert f"{accuracy:.4f}" in reason
    if check == "change":
        assert "version 3's" in reason


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def weak_model(small_model) -> Path:
    """An MLP trained 1 epoch on 1,800 digits: far below `trained_model` on test."""
    return small_model


@pytest.fixture
def data(small_processed_dir, mnist_schema) -> tuple[Path, Path]:
    """The processed slice of MNIST, and its schema."""
    return small_processed_dir, mnist_schema


def _evaluate(
    model: Path, data: tuple[Path, Path], tmp_path: Path, served: Path, **thresholds
) -> Blessing:
    processed, schema_path = data
    paths = Paths(
        data=str(processed),
        schema=str(schema_path),
        model=str(model),
        out=str(tmp_path / "reports"),
        serving=str(served),
    )
    params = dataclasses.replace(
        default_params().evaluate, **({"min_accuracy": 0.5, "max_accuracy_drop": 0.0} | thresholds)
    )
    return evaluate(paths, params).blessing


def _push(model: Path, served: Path) -> None:
    record = serving.PushRecord(serving.file_sha256(model), Score(accuracy=0.9, loss=0.3))
    export.push(keras.models.load_model(model), served, record, MNIST)


def test_a_worse_candidate_is_not_blessed_and_serving_is_untouched(
    tmp_path, data, trained_model, weak_model
):
    served = tmp_path / "serving"
    _push(trained_model, served)
    before = _snapshot(served)
    blessing = _evaluate(weak_model, data, tmp_path, served)
    assert not blessing.blessed and blessing.check == "change"
    assert blessing.baseline.version == 1
    assert blessing.baseline.model_sha256 == serving.file_sha256(trained_model)
    assert blessing.baseline.test.accuracy > blessing.candidate.test.accuracy
    assert blessing.pushed_version is None
    assert _snapshot(served) == before
    # The stage's outputs record it: the blessing in full, the verdict among the metrics.
    reports = tmp_path / "reports"
    assert json.loads((reports / artifacts.BLESSING_FILE).read_text()) == blessing.to_json()
    metrics = json.loads((reports / artifacts.METRICS_FILE).read_text())
    assert metrics == {"test": blessing.candidate.test.to_json(), "blessed": False}


def test_a_better_candidate_is_pushed_as_the_next_version(
    tmp_path, data, trained_model, weak_model
):
    served = tmp_path / "serving"
    _push(weak_model, served)
    first = _snapshot(served / "1")
    blessing = _evaluate(trained_model, data, tmp_path, served)
    assert blessing.blessed and blessing.check == "change"
    assert blessing.pushed_version == 2
    assert _snapshot(served / "1") == first
    assert serving.read_push_record(served / "2") == serving.PushRecord(
        serving.file_sha256(trained_model), blessing.candidate.test
    )
    assert serving.read_version_schema(served / "2") == MNIST  # what mnist-predict reads
    # The same model again is blessed against itself, and not pushed a second time.
    again = _evaluate(trained_model, data, tmp_path, served)
    assert again.blessed and again.pushed_version is None
    assert again.baseline.version == 2
    assert serving.latest_version(served) == served / "2"


def test_below_the_value_threshold_with_nothing_serving_completes(tmp_path, data, weak_model):
    served = tmp_path / "serving"
    blessing = _evaluate(weak_model, data, tmp_path, served, min_accuracy=0.99)
    assert not blessing.blessed and blessing.check == "value"
    assert blessing.baseline is None and blessing.pushed_version is None
    assert serving.latest_version(served) is None
    assert (
        json.loads((tmp_path / "reports" / artifacts.METRICS_FILE).read_text())["blessed"] is False
    )


@pytest.fixture(scope="module")
def pets_model(tmp_path_factory, pets_processed_dir, pets_schema) -> Path:
    """A model of PETS' four kinds of 12x10 RGB image, trained 1 epoch."""
    params = dataclasses.replace(default_params().train, epochs=1)
    return train_model(tmp_path_factory.mktemp("pets"), pets_processed_dir, pets_schema, params)


def test_a_model_of_another_dataset_serving_is_no_baseline(
    tmp_path, weak_model, pets_model, pets_processed_dir, pets_schema, caplog
):
    # MNIST digits serve; the candidate classifies four kinds of 12x10 RGB image. No score
    # of the one on the other's test split means anything: the value check alone decides.
    served = tmp_path / "serving"
    _push(weak_model, served)
    data = (pets_processed_dir, pets_schema)
    caplog.set_level(logging.INFO)
    held_back = _evaluate(pets_model, data, tmp_path, served, min_accuracy=1.0)
    assert not held_back.blessed and held_back.baseline is None
    assert caplog.records[-1].getMessage().endswith("; version 1 keeps serving")
    blessing = _evaluate(pets_model, data, tmp_path, served, min_accuracy=0.0)
    assert blessing.blessed and blessing.check == "value" and blessing.baseline is None
    assert blessing.pushed_version == 2
    assert serving.read_version_schema(served / "2") == PETS
    assert serving.read_version_schema(served / "1") == MNIST  # left as it was
    lines = [r.getMessage() for r in caplog.records if r.name == bl.logger.name]
    said = "version 1 serves 0..9 (28x28x1); this project: cat..newt (12x10x3)"
    replaces = (
        "so evaluate.min_accuracy alone judges the candidate; if blessed, it replaces version 1"
    )
    assert lines[-3:-1] == [said, replaces]
    assert lines[-1].endswith("/serving/2")
    assert all(len(line) <= message_room(bl.logger) for line in lines)


def test_a_served_version_whose_schema_is_not_its_models_is_one_line(
    tmp_path, weak_model, pets_model, pets_processed_dir, pets_schema
):
    # The MNIST model, its schema.json replaced by PETS': the same data as the candidate's,
    # to read it; scoring it would feed 12x10x3 images to a graph that takes 28x28x1.
    served = tmp_path / "serving"
    _push(weak_model, served)
    schema_file(served / "1" / serving.EXTRA, PETS)
    data = (pets_processed_dir, pets_schema)
    with pytest.raises(
        PipelineError,
        match=r"1/assets\.extra/schema\.json says cat\.\.newt \(12x10x3\), "
        "but its model does not take 12x10x3 images",
    ):
        _evaluate(pets_model, data, tmp_path, served, min_accuracy=0.0)
    assert not (tmp_path / "reports").exists() and serving.versions(served) == [served / "1"]


@pytest.mark.parametrize(
    ("accuracy", "baseline", "pushed", "push"),
    [
        (0.9604, None, None, True),  # NOT BLESSED on value, nothing served
        (0.9604, 0.9862, None, True),  # NOT BLESSED on value
        (0.9712, 0.9862, None, True),  # NOT BLESSED on change
        (0.9760, None, 1000, True),  # blessed and pushed
        (0.9760, 0.9750, 1000, True),
        (0.9760, 0.9750, None, False),  # not pushed: a tuning trial
        (0.9760, 0.9750, None, True),  # serving already
    ],
)
def test_every_verdict_fits_a_line_of_120_columns(
    caplog, tmp_path, accuracy, baseline, pushed, push
):
    from pipeline import logs

    thresholds = Thresholds(min_accuracy=0.9725, max_accuracy_drop=0.0125)
    served = baseline and Baseline(999, "a" * 64, Score(accuracy=baseline, loss=0.1))
    candidate = Score(accuracy=accuracy, loss=0.1)
    blessed, check, reason = bl.decide(candidate, served, thresholds)
    identity = Candidate("a" * 64, candidate)
    blessing = Blessing(blessed, check, reason, identity, served, thresholds, pushed)
    deep = tmp_path.joinpath(*["a-folder-of-many-letters"] * 6, "serving")
    with caplog.at_level("INFO", logger=bl.logger.name):
        bl._log(blessing, deep, push, None)
    [record] = caplog.records
    line = record.getMessage()
    assert len(line) <= logs.message_room(bl.logger, record.levelno), line
    assert f"{accuracy:.4f}" in line
    if served and check == "change" and not blessed:
        assert "version 999's 0.9862 - evaluate.max_accuracy_drop 0.0125" in line
    if pushed:
        assert line.endswith("/serving/1000") and str(tmp_path) not in line

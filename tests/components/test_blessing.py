"""Blessing and push: TFX's value and change thresholds, against the model serving now."""

import dataclasses
import hashlib
import json
from pathlib import Path

import keras
import pytest

from components import blessing as bl
from components import evaluate as ev
from components import export as ex
from components import train as tr
from pipeline import artifacts, io
from tests.support.records import default_params


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
        {"accuracy": accuracy},
        baseline and {"accuracy": baseline},
        baseline_version=3,
        min_accuracy=0.97,
        max_accuracy_drop=0.01,
    )
    assert (blessed, check) == verdict
    assert f"{accuracy:.4f}" in reason
    if check == "change":
        assert "serving version 3's" in reason


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def weak_model(tmp_path_factory, small_processed_dir) -> Path:
    """An MLP trained 1 epoch on 1,800 digits: far below `trained_model` on test."""
    path = tmp_path_factory.mktemp("weak") / "model.keras"
    params = dataclasses.replace(default_params().train, epochs=1)
    tr.train(data_dir=small_processed_dir, model_path=path, params=params)
    return path


def _evaluate(model: Path, data: Path, tmp_path: Path, serving: Path, **thresholds) -> dict:
    return ev.evaluate(
        data_dir=data,
        model_path=model,
        out_dir=tmp_path / "reports",
        serving_dir=serving,
        **({"min_accuracy": 0.5, "max_accuracy_drop": 0.0} | thresholds),
    )


def _push(model: Path, serving: Path) -> None:
    ex.push(keras.models.load_model(model), serving, {"model_sha256": ex.file_sha256(model)})


def test_a_worse_candidate_is_not_blessed_and_serving_is_untouched(
    tmp_path, small_processed_dir, trained_model, weak_model
):
    serving = tmp_path / "serving"
    _push(trained_model, serving)
    before = _snapshot(serving)
    blessing = _evaluate(weak_model, small_processed_dir, tmp_path, serving)
    assert not blessing["blessed"] and blessing["check"] == "change"
    assert blessing["baseline"]["version"] == 1
    assert blessing["baseline"]["model_sha256"] == ex.file_sha256(trained_model)
    assert blessing["baseline"]["test"]["accuracy"] > blessing["candidate"]["test"]["accuracy"]
    assert blessing["pushed_version"] is None
    assert _snapshot(serving) == before
    # The stage's outputs record it: the blessing in full, the verdict among the metrics.
    reports = tmp_path / "reports"
    assert json.loads((reports / artifacts.BLESSING_FILE).read_text()) == blessing
    metrics = json.loads((reports / artifacts.METRICS_FILE).read_text())
    assert metrics == {"test": blessing["candidate"]["test"], "blessed": False}


def test_a_better_candidate_is_pushed_as_the_next_version(
    tmp_path, small_processed_dir, trained_model, weak_model
):
    serving = tmp_path / "serving"
    _push(weak_model, serving)
    first = _snapshot(serving / "1")
    blessing = _evaluate(trained_model, small_processed_dir, tmp_path, serving)
    assert blessing["blessed"] and blessing["check"] == "change"
    assert blessing["pushed_version"] == 2
    assert _snapshot(serving / "1") == first
    assert ex.push_record(serving / "2") == {
        "model_sha256": ex.file_sha256(trained_model),
        "test": blessing["candidate"]["test"],
    }
    # The same model again is blessed against itself, and not pushed a second time.
    again = _evaluate(trained_model, small_processed_dir, tmp_path, serving)
    assert again["blessed"] and again["pushed_version"] is None
    assert again["baseline"]["version"] == 2
    assert io.latest_version(serving) == serving / "2"


def test_below_the_value_threshold_with_nothing_serving_completes(
    tmp_path, small_processed_dir, weak_model
):
    serving = tmp_path / "serving"
    blessing = _evaluate(weak_model, small_processed_dir, tmp_path, serving, min_accuracy=0.99)
    assert not blessing["blessed"] and blessing["check"] == "value"
    assert blessing["baseline"] is None and blessing["pushed_version"] is None
    assert io.latest_version(serving) is None
    assert (
        json.loads((tmp_path / "reports" / artifacts.METRICS_FILE).read_text())["blessed"] is False
    )

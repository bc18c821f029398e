"""Promotion through DVC experiments: a better architecture replaces the serving model.

A clone of its own (tests/support/project.py), so it runs beside tests/test_e2e.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.project import AFTER_TRAINING, METRICS, Project, new_project

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Project:
    """A clone whose reference MLP, built by `dvc repro`, serves as version 1."""
    project = new_project(tmp_path_factory, mirror_dir)
    project.run("dvc", "repro")
    assert project.versions() == ["1"]
    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "baseline results")
    return project


def test_a_better_architecture_is_blessed_by_the_change_threshold_and_pushed(project: Project):
    mlp = project.json(METRICS)["test"]["accuracy"]
    ran = project.stages_run("dvc", "exp", "run", "-S", "train.model=cnn", "-S", "train.epochs=1")
    assert ran == AFTER_TRAINING
    # One CNN epoch beats five MLP ones (docs/performance.md has the measured figures).
    assert project.json(METRICS)["test"]["accuracy"] > mlp
    blessing = project.blessing()
    assert (blessing["check"], blessing["baseline"]["version"]) == ("change", 1)
    assert blessing["pushed_version"] == 2 and project.versions() == ["1", "2"]
    project.reset()


def test_temp_experiment_worse_than_serving_is_not_blessed(project: Project):
    # The MLP passes evaluate.min_accuracy but is worse than the CNN serving as version 2.
    serving = project.serving()
    project.run("dvc", "exp", "run", "--temp", "-n", "mlp-again", "-S", "train.seed=7")
    metrics = project.experiment_metrics()["mlp-again"]
    assert metrics["blessed"] is False and metrics["test"]["accuracy"] >= 0.97
    assert project.serving() == serving

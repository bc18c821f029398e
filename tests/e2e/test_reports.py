"""A failed experiment's reports reach the user's project: DVC runs `--temp` and queued
experiments in a copy of the project it deletes afterwards, and a report written there
would go with it (pipeline.workspace).

On the small folder of real MNIST digits the tests of DVC's mechanics share, which
preprocess fails on: a validation fraction that leaves the validation split empty.
"""

from __future__ import annotations

import json

import pytest

from tests.support.project import Project

pytestmark = pytest.mark.e2e

REPORT = "anomalies/preprocess.json"  # as the failure line names it
EMPTY = "validation: the split is empty"


@pytest.fixture
def project(digits_project: Project) -> Project:
    """The small folder of digits DVC tracks, run and committed (tests/e2e/conftest.py)."""
    return digits_project


def _failure_line(output: str) -> str:
    [line] = [line for line in output.splitlines() if " ERROR pipeline: preprocess: " in line]
    return line


def _reported(project: Project) -> list[str]:
    report = json.loads(project.read(REPORT))
    assert report["stage"] == "preprocess"
    return report["anomalies"]


def test_a_failed_temp_experiments_anomalies_are_in_the_project(project: Project):
    failed = project.call(
        "dvc", "exp", "run", "--temp", "-S", "preprocess.validation_fraction=1e-9"
    )
    assert failed.returncode != 0
    line = _failure_line(failed.stdout + failed.stderr)
    assert EMPTY in line and line.endswith(f"; all listed in {REPORT}"), line
    assert _reported(project)[0].startswith(EMPTY)
    assert project.run("git", "status", "--porcelain") == ""  # git ignores the report


def test_a_failed_queued_experiments_anomalies_are_in_the_project(project: Project):
    project.run(
        "dvc",
        "exp",
        "run",
        "--queue",
        "-n",
        "empty-val",
        "-S",
        "preprocess.validation_fraction=2e-9",
    )
    assert project.run_queue(jobs=1) == {"empty-val": "failed"}
    assert _reported(project)[0].startswith(EMPTY)
    # The line that names it, where DVC keeps a queued run's output.
    line = _failure_line(project.run("dvc", "queue", "logs", "empty-val"))
    assert line.endswith(f"; all listed in {REPORT}"), line

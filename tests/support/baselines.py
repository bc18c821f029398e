"""The projects the e2e tests start from, each built once per test run (tests/e2e/conftest.py
gives each test a copy): what a build does, and what it leaves for the tests beside its clone.
"""

from __future__ import annotations

import json

import numpy as np

from tests.support.folders import mnist_folder
from tests.support.project import Project

# Beside the MNIST baseline's clone: the stages its `dvc repro` ran and what it printed.
FIRST_RUN = "first-run.json"


def mnist(project: Project) -> None:
    """README's first run: `dvc repro` in a fresh clone on the MNIST mirror, its results then
    committed (the reference MLP serves as version 1). What the run printed is kept
    (`FIRST_RUN`) for the test of that run."""
    ran = project.stages_run("dvc", "repro")
    first_run = {"stages": ran, "output": project.output}
    (project.path.parent / FIRST_RUN).write_text(json.dumps(first_run))
    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "baseline results")


IMAGES = "data/images"
# A model of 1,800 digits reaches 0.89 in five epochs, 0.79 in one: the baseline's bar lies
# between, so the default run is served and a one-epoch run is not.
DIGITS_MIN_ACCURACY = 0.85


def digits(project: Project, mnist: dict[str, np.ndarray]) -> None:
    """The small dataset of the tests of DVC's mechanics (failures, signals, queues, tuning,
    pushes): MNIST's first 2,000 train and 500 test digits as a folder DVC tracks, committed;
    then the pipeline run once and served as version 1, its results committed."""
    mnist_folder(mnist, project.path / IMAGES, {"train": 2000, "test": 500})
    project.run("dvc", "add", IMAGES)
    project.set_param("data.dataset", "folder")
    project.set_param("data.folder", IMAGES)
    project.set_param("evaluate.min_accuracy", DIGITS_MIN_ACCURACY)
    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "a small folder of digits")
    project.run("dvc", "repro")  # its results in a commit of their own, as in `mnist`
    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "baseline results")

"""The projects the e2e tests start from, each built once per test run (tests/e2e/conftest.py
gives each test a copy): what a build does, and what it leaves for the tests beside its clone.
"""

from __future__ import annotations

import json

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

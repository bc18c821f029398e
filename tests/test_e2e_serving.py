"""Serving through DVC experiments: promotion, and the push under faults and concurrency.

A clone of its own (tests/support/project.py), so it runs beside tests/test_e2e.py. The
MLP built by `dvc repro` serves as version 1; a better architecture is promoted; a worse
`--temp` experiment is not; a push killed mid-way is never visible and the next run
completes it; six queued experiments pushing in parallel number their versions in order.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from components.export import PUSH_RECORD
from pipeline import io
from tests.support.project import AFTER_TRAINING, METRICS, PATHS, Project, new_project

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


def _complete(version: Path) -> bool:
    return (version / "saved_model.pb").is_file() and (version / PUSH_RECORD).is_file()


def test_a_push_killed_midway_is_never_visible_and_the_next_run_completes_it(project: Project):
    serving = project.path / PATHS["serving"]
    before = project.versions()
    project.set_param("train.seed", 11)
    project.set_param("evaluate.max_accuracy_drop", 1.0)  # blessed whatever it scores
    repro = subprocess.Popen(
        ["dvc", "repro"],
        cwd=project.path,
        env=project.env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while not list(serving.glob(f".*{io.TMP_MARK}*")):  # the push has begun writing
        assert repro.poll() is None and time.monotonic() < deadline, "no push to kill"
        time.sleep(0.002)
    os.killpg(repro.pid, signal.SIGKILL)
    repro.wait()
    # What a model server watching the folder sees: the same complete versions as before.
    assert project.versions() == before and all(_complete(serving / v) for v in before)
    assert project.stages_run("dvc", "repro") == ["evaluate"]
    pushed = project.blessing()["pushed_version"]
    assert project.versions() == [*before, str(pushed)] and _complete(serving / str(pushed))
    assert not list(serving.glob(".*"))  # the killed push's leftovers are gone
    project.reset()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_six_parallel_pushes_number_their_versions_without_gaps(project: Project):
    before, earlier = project.versions(), set(project.experiment_revs())
    for seed in range(1, 7):  # six different models, each blessed whatever it scores
        project.run(
            "dvc", "exp", "run", "--queue", "-S", f"train.seed={seed}", "-S", "train.epochs=1",
            "-S", "evaluate.max_accuracy_drop=1.0", "-S", "evaluate.min_accuracy=0.5",
        )  # fmt: skip
    states = {n: s for n, s in project.run_queue(jobs=2).items() if n not in earlier}
    assert sorted(states.values()) == ["success"] * 6, states
    first = int(before[-1]) + 1
    assert project.versions() == [*before, *map(str, range(first, first + 6))]
    pushed, experiments = set(), project.experiments()
    for name, rev in project.experiment_revs().items():
        if name in earlier:
            continue
        blessing = project.json_at(rev, PATHS["reports"] + "/blessing.json")
        model = project.cached(experiments[name]["outs"]["models/model.keras"]["hash"])
        version = project.path / PATHS["serving"] / str(blessing["pushed_version"])
        record = project.json(str(version.relative_to(project.path) / PUSH_RECORD))
        assert record["model_sha256"] == blessing["candidate"]["model_sha256"] == _sha256(model)
        pushed.add(blessing["pushed_version"])
    assert pushed == set(range(first, first + 6))

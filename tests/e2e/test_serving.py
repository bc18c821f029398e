"""Serving through DVC experiments, and runs under faults, each test in a copy of a
baseline of its own (tests/e2e/conftest.py): README's first run on MNIST where the accuracy
decides, the small folder of digits where DVC's mechanics are the point. The MLP built by
`dvc repro` serves as version 1; a better architecture is promoted; a worse `--temp`
experiment is not; a push killed mid-way is never visible and the next run completes it;
four queued experiments pushing in parallel number their versions in order; a stage killed
mid-way leaves nothing DVC trusts; Beam workers that never start fail in one line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from components.evaluate.serving import PUSH_RECORD
from pipeline import outputs
from tests.support import cluster
from tests.support.project import (
    AFTER_TRAINING,
    BLESSING,
    METRICS,
    PATHS,
    Project,
)
from tests.support.stages import temps_left

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(mnist_project: Project) -> Project:
    """README's first run on MNIST, committed: the reference MLP serves as version 1."""
    assert mnist_project.versions() == ["1"]
    return mnist_project


def test_a_better_architecture_is_blessed_by_the_change_threshold_and_pushed(project: Project):
    mlp = project.json(METRICS)["test"]["accuracy"]
    ran = project.stages_run("dvc", "exp", "run", "-S", "train.model=cnn", "-S", "train.epochs=1")
    assert ran == AFTER_TRAINING
    # One CNN epoch beats five MLP ones (docs/performance.md has the measured figures).
    assert project.json(METRICS)["test"]["accuracy"] > mlp
    blessing = project.blessing()
    assert (blessing["check"], blessing["baseline"]["version"]) == ("change", 1)
    assert blessing["pushed_version"] == 2 and project.versions() == ["1", "2"]


def test_temp_experiment_worse_than_serving_is_not_blessed(project: Project):
    # One MLP epoch passes a lowered value threshold; it is worse than the five-epoch MLP
    # serving as version 1, so the change threshold holds it back.
    serving = project.serving()
    changes = ["train.seed=7", "train.epochs=1", "evaluate.min_accuracy=0.9"]
    project.run("dvc", "exp", "run", "--temp", "-n", "mlp-again", *(f"-S{c}" for c in changes))
    rev = project.experiment_revs()["mlp-again"]
    blessing = project.json_at(rev, BLESSING)
    assert (blessing["blessed"], blessing["check"]) == (False, "change")
    assert blessing["candidate"]["test"]["accuracy"] >= 0.9
    assert project.serving() == serving


def _complete(version: Path) -> bool:
    return (version / "saved_model.pb").is_file() and (version / PUSH_RECORD).is_file()


def test_a_push_killed_midway_is_never_visible_and_the_next_run_completes_it(
    digits_project: Project,
):
    project = digits_project
    serving = project.path / PATHS["serving"]
    before = project.versions()
    project.set_param("train.seed", 11)
    project.set_param("evaluate.min_accuracy", 0.5)  # blessed whatever it scores
    project.set_param("evaluate.max_accuracy_drop", 1.0)
    project.kill_repro_when(f"{PATHS['serving']}/.*{outputs.TMP_MARK}*")  # the push has begun
    # What a model server watching the folder sees: the same complete versions as before.
    assert project.versions() == before and all(_complete(serving / v) for v in before)
    assert project.stages_run("dvc", "repro") == ["evaluate"]
    pushed = project.blessing()["pushed_version"]
    assert project.versions() == [*before, str(pushed)] and _complete(serving / str(pushed))
    assert not list(serving.glob(".*"))  # the killed push's leftovers are gone


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_parallel_pushes_number_their_versions_without_gaps(digits_project: Project):
    project = digits_project
    before, earlier = project.versions(), set(project.experiment_revs())
    for seed in range(1, 5):  # four different models, two at a time, each blessed
        project.run(
            "dvc", "exp", "run", "--queue", "-S", f"train.seed={seed}", "-S", "train.epochs=1",
            "-S", "evaluate.max_accuracy_drop=1.0", "-S", "evaluate.min_accuracy=0.5",
        )  # fmt: skip
    states = {n: s for n, s in project.run_queue(jobs=2).items() if n not in earlier}
    assert sorted(states.values()) == ["success"] * 4, states
    first = int(before[-1]) + 1
    assert project.versions() == [*before, *map(str, range(first, first + 4))]
    pushed, experiments = set(), project.experiments()
    for name, rev in project.experiment_revs().items():
        if name in earlier:
            continue
        blessing = project.json_at(rev, BLESSING)
        model = project.cached(experiments[name]["outs"]["models/model.keras"]["hash"])
        version = project.path / PATHS["serving"] / str(blessing["pushed_version"])
        record = project.json(str(version.relative_to(project.path) / PUSH_RECORD))
        assert record["model_sha256"] == blessing["candidate"]["model_sha256"] == _sha256(model)
        pushed.add(blessing["pushed_version"])
    assert pushed == set(range(first, first + 4))


def test_killed_stage_leaves_nothing_dvc_trusts(digits_project: Project):
    project = digits_project
    project.set_param("train.epochs", 20)
    # DVCLive writes the first epoch's losses into train's temp folder: 19 epochs to go.
    project.kill_repro_when(".dvclive.tmp-*/plots/metrics/train/loss.tsv")
    assert "train" in project.changed_stages()
    assert project.stages_run("dvc", "repro") == AFTER_TRAINING
    assert project.changed_stages() == set()
    assert temps_left(project.path) == []


def _fails_in_one_line(project: Project, *args: str) -> str:
    result = project.call("dvc", "repro", "-s", "preprocess", *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR pipeline: " in line]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


@pytest.mark.parametrize("engine", ["portable", "dask"])
def test_workers_that_never_start_fail_in_one_line(digits_project: Project, engine: str):
    project = digits_project
    before = project.processed()
    project.set_param("preprocess.worker_start_timeout", 5)
    if engine == "portable":  # a worker pool whose workers exit at once
        with cluster.beam_portable(container_executable="/bin/false") as beam_args:
            project.set_param("preprocess.runner", "PortableRunner")
            project.set_param("preprocess.beam_args", beam_args)
            error = _fails_in_one_line(project)
    else:  # a scheduler without workers
        with cluster.dask(workers=0) as address:
            project.set_param("preprocess.runner", "DaskRunner")
            project.set_param("preprocess.beam_args", [f"--dask_client_address={address}"])
            error = _fails_in_one_line(project)
    assert "no Beam worker started within 5 s" in error
    # The stage's outputs persist through DVC's run, and nothing half-written is left.
    assert project.processed() == before
    assert temps_left(project.path) == []

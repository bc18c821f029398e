"""mnist-tune on one study in PostgreSQL from two clones, as two machines of a team would run
it (docs/tuning.md, "A study shared by a team"): a bare git remote and a folder DVC remote,
a small folder of shapes, each clone's mnist-tune started at once; one is killed while its
trial trains. The other fails that trial once its heartbeats stop, retries it, and
completes the study; either clone's report lists every trial, and the best is promoted in
the clone that did not run it, pulled from the remotes.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import optuna
import pytest
import yaml

from bench.shapes import shapes_folder
from tests.support.postgres import create_database
from tests.support.project import Project, assert_lines_fit, new_project
from tools.tune.storage import STORAGE_ENV, open_rdb, shared
from tools.tune.study import TrialNotes

pytestmark = pytest.mark.e2e

TRIALS = 3
GRACE = 6  # seconds: the killed worker's trial is failed soon after it dies
# A trial's train stage is running: the stage's temp output, in the trial's executor folder.
TRIAL_TRAINING = ".dvc/tmp/exps/standalone/tmp*/.dvclive.tmp-*"
SETTINGS = [
    "data.dataset=folder", "data.folder=data/images", "train.epochs=1", "train.min_steps=0",
    "train.hidden_layer_size=8", "evaluate.min_accuracy=0.3",
]  # fmt: skip
SPACE = {"train.learning_rate": {"low": 0.001, "high": 0.01, "log": True}}


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path, postgres) -> list[Project]:
    """Two clones of a project pushed to a git and a DVC remote, its pipeline run once; their
    environment names the study's database."""
    origin = new_project(tmp_path_factory, mirror_dir)
    remotes = tmp_path_factory.mktemp("remotes")
    shapes_folder(origin.path / "data" / "images", 7, counts={"train": 40, "test": 20})
    origin.run("git", "init", "-q", "--bare", "-b", "main", str(remotes / "git"))
    origin.run("git", "remote", "add", "origin", str(remotes / "git"))
    origin.run("dvc", "remote", "add", "-d", "shared", str(remotes / "dvc"))
    origin.run("dvc", "add", "data/images")
    origin.run("dvc", "exp", "run", *(f"-S{setting}" for setting in SETTINGS))
    (origin.path / "tune.yaml").write_text(
        yaml.safe_dump({"study": "team", "seed": 5, "space": SPACE})
    )
    origin.run("git", "add", "-A")
    origin.run("git", "commit", "-q", "-m", "a team's project, tuned together")
    origin.run("git", "push", "-q", "origin", "HEAD:main")
    origin.run("dvc", "push")
    url = create_database(postgres, "team")
    clones = []
    for name in ("first", "second"):
        path = remotes.with_name(f"{remotes.name}-{name}")
        origin.run("git", "clone", "-q", str(remotes / "git"), str(path))
        clone = Project(path, mirror_dir)
        clone.env[STORAGE_ENV] = url
        clone.run("dvc", "pull")
        clones.append(clone)
    return clones


def _study(project: Project) -> optuna.Study:
    return optuna.load_study(study_name="team", storage=open_rdb(shared(project.env[STORAGE_ENV])))


def _overlap(one: optuna.trial.FrozenTrial, other: optuna.trial.FrozenTrial) -> bool:
    return one.datetime_start < other.datetime_complete and (
        other.datetime_start < one.datetime_complete
    )


def test_two_clones_finish_one_study_through_a_workers_death(team: list[Project], tmp_path):
    first, second = team
    tune = ["mnist-tune", "--trials", str(TRIALS), "--jobs", "1", "--grace", str(GRACE)]
    survivor = first.start(*tune, log=tmp_path / "first.log")
    killed = second.start(*tune, log=tmp_path / "second.log")
    try:
        second.wait_for(TRIAL_TRAINING, killed)
        os.kill(killed.pid, signal.SIGKILL)  # its trial ends with it, unseen by the study
        killed.wait()
        assert survivor.wait(timeout=1500) == 0, (tmp_path / "first.log").read_text()[-3000:]
    finally:
        for process in (survivor, killed):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    said = (tmp_path / "first.log").read_text()
    assert_lines_fit(said)
    assert f"({TRIALS}/{TRIALS} complete in the study, " in said
    trials = _study(first).get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    [dead] = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(complete) == TRIALS and len(trials) == TRIALS + 1
    assert len({TrialNotes.of(t).experiment for t in complete}) == TRIALS
    assert dead.system_attrs["mnist_tune_worker"].endswith(str(second.path.resolve()))
    [retried] = [t for t in complete if t.system_attrs.get("failed_trial") == dead.number]
    assert retried.params == dead.params
    assert any(_overlap(dead, t) for t in complete)  # the two workers ran at the same time

    # Either clone's report lists every trial, the same way.
    reports = [clone.run("mnist-tune", "--report") for clone in team]
    assert reports[0] == reports[1]
    assert f"study team: {TRIALS} trials finished, 1 failed" in reports[0]
    best = max(complete, key=lambda t: (t.value, -t.number))
    name = TrialNotes.of(best).experiment
    assert f"promote it: dvc exp pull origin {name} && dvc exp apply {name}" in reports[0]

    # The best, run in the first clone, promoted in the second from the remotes.
    second.run("dvc", "exp", "pull", "origin", name)
    second.run("dvc", "exp", "apply", name)
    params = yaml.safe_load(second.read("params.yaml"))
    assert params["train"]["learning_rate"] == pytest.approx(best.params["train.learning_rate"])

"""mnist-tune's shared study on a real PostgreSQL: workers in clones of one project, their
trials played by fakes that score the learning rate without DVC."""

import dataclasses
import os
import subprocess
import threading

import optuna
import pytest
import sqlalchemy.pool  # noqa: F401  imported here, not by two workers' threads at once

from pipeline.errors import PipelineError
from tests.support.postgres import create_database
from tools.tune import shared, study
from tools.tune.space import Dimension, TuneSpec
from tools.tune.storage import Shared

# The tests ask() for trials as mnist-tune's workers do, which silence this notice themselves.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Heartbeat of storage is supposed to be used with Study.optimize:UserWarning"
)

SPEC = TuneSpec(
    "s",
    1,
    (
        Dimension("train.learning_rate", float, 1e-4, 1e-1, log=True),
        Dimension("train.epochs", int, 1, 50),
    ),
)
_GIT = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
}  # fmt: skip
_databases = iter(range(1000))


def _git(root, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env=_GIT, check=True, capture_output=True)


@pytest.fixture
def clones(tmp_path):
    """Two clones of a project at one commit."""
    first = tmp_path / "a"
    first.mkdir()
    (first / "tune.yaml").write_text("study: s\n")
    _git(first, "init", "-q")
    _git(first, "add", "-A")
    _git(first, "commit", "-q", "-m", "a project")
    _git(tmp_path, "clone", "-q", str(first), "b")
    return first, tmp_path / "b"


@pytest.fixture
def database(postgres, request) -> Shared:
    """A database of its own for the test; heartbeats every second, stale after a minute
    (tests of a stale trial make it two seconds)."""
    url = create_database(postgres, f"study_{next(_databases)}_{os.getpid()}")
    return Shared(url.replace("postgresql://", "postgresql+psycopg://"), heartbeat=1, grace=60)


def _fake_trials(monkeypatch, during=lambda name, params: None) -> list[dict]:
    ran = []

    def run(self, name: str, params: dict) -> study.TrialResult:
        ran.append(params)
        during(name, params)
        return study.TrialResult(val_accuracy=params["train.learning_rate"], test_accuracy=0.5)

    monkeypatch.setattr(study.Trials, "run", run)
    return ran


def _load(database: Shared):
    from tools.tune.storage import open_rdb

    return optuna.load_study(study_name=SPEC.study, storage=open_rdb(database))


def _one_trial_run(root, database: Shared, monkeypatch) -> optuna.Study:
    """The study after a worker in `root` ran one (fake) trial."""
    _fake_trials(monkeypatch)
    study.run_study(SPEC, total=1, jobs=1, root=root, storage=database)
    return _load(database)


def _states(database: Shared) -> list[str]:
    return [t.state.name for t in _load(database).get_trials(deepcopy=False)]


def test_trials_is_the_studys_total_whichever_worker_runs_them(clones, database, monkeypatch):
    ran = _fake_trials(monkeypatch)
    first, second = clones
    assert study.run_study(SPEC, total=2, jobs=1, root=first, storage=database).completed == 2
    assert study.run_study(SPEC, total=3, jobs=2, root=second, storage=database).completed == 1
    assert study.run_study(SPEC, total=3, jobs=2, root=first, storage=database).completed == 0
    trials = _load(database).get_trials(deepcopy=False)
    assert [study.TrialNotes.of(t).experiment for t in trials] == ["s-000", "s-001", "s-002"]
    assert len({tuple(params.items()) for params in ran}) == 3  # never the same trial twice


# storage.open_rdb silences Optuna's experimental notices, but warnings' filters are the
# process's: with two workers' threads in one process, one's leave lets the other's through.
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_workers_at_once_share_the_total(clones, database, monkeypatch):
    # Each takes its trials as the study's count allows: between them the total, each
    # trial number once. Two starting in the same instant may both take the last one. A new
    # database: both make Optuna's tables at once.
    _fake_trials(monkeypatch, during=lambda name, params: threading.Event().wait(0.2))
    runs = {}

    def work(root):
        try:
            runs[root] = study.run_study(SPEC, total=6, jobs=2, root=root, storage=database)
        except Exception as error:
            runs[root] = error

    workers = [threading.Thread(target=work, args=(root,)) for root in clones]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(isinstance(run, study.Run) for run in runs.values()), runs
    assert 6 <= sum(run.completed for run in runs.values()) <= 7
    assert all(run.failed == 0 for run in runs.values())
    assert set(_states(database)) == {"COMPLETE"}


def test_another_workers_running_trial_is_never_failed_this_clones_own_is(
    clones, database, monkeypatch
):
    first, second = clones
    left = _one_trial_run(first, database, monkeypatch)
    mine = left.ask()  # what a run in this clone that was killed leaves
    shared.claim(left._storage, mine, shared.worker_id(second))
    theirs = left.ask()  # a live worker's, in the other clone, beating
    shared.claim(left._storage, theirs, shared.worker_id(first))
    seen = []

    def during(name, params):  # the other worker's trial ends while this one's runs
        seen.append(_states(database)[theirs.number])
        left.tell(theirs.number, 0.5)

    _fake_trials(monkeypatch, during=during)
    with shared.Heartbeats(left._storage, 1, "other") as beats:
        beats.add(theirs)
        run = study.run_study(SPEC, total=3, jobs=1, root=second, storage=database)
    assert seen == ["RUNNING"] and run.completed == 1
    assert _states(database) == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]


def test_a_trial_whose_worker_stopped_beating_is_failed_and_its_params_retried(
    clones, database, monkeypatch
):
    first, second = clones
    ran = _fake_trials(monkeypatch)
    study.run_study(SPEC, total=1, jobs=1, root=first, storage=database)
    finished = list(ran)
    dead = _load(database)
    trial = dead.ask()
    params = {d.key: d.suggest(trial) for d in SPEC.space}
    shared.claim(dead._storage, trial, "a worker killed -9")  # one beat, then none
    ran[:] = []
    quick = dataclasses.replace(database, grace=2)
    run = study.run_study(SPEC, total=2, jobs=1, root=second, storage=quick)
    assert run.completed == 1 and ran == [params]  # retried; the finished trial not replayed
    assert ran != finished
    trials = _load(database).get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert trials[2].system_attrs["failed_trial"] == trial.number
    assert study.TrialNotes.of(trials[2]).experiment == "s-002"


def test_a_clone_at_another_commit_or_with_another_space_is_refused_the_study_untouched(
    clones, database, monkeypatch
):
    first, second = clones
    stamp = _one_trial_run(first, database, monkeypatch).user_attrs

    other_space = TuneSpec(SPEC.study, 2, SPEC.space)
    with pytest.raises(PipelineError, match=r"searches another space than this tune\.yaml"):
        study.run_study(other_space, total=2, jobs=1, root=second, storage=database)
    _git(second, "commit", "-q", "--allow-empty", "-m", "another commit")
    with pytest.raises(PipelineError, match=r"runs from commit \w{12}, this clone is at \w{12}"):
        study.run_study(SPEC, total=2, jobs=1, root=second, storage=database)
    after = _load(database)
    assert after.user_attrs == stamp and _states(database) == ["COMPLETE"]


def test_a_study_of_another_mnist_tune_is_refused(clones, database, monkeypatch):
    first, _ = clones
    made = _one_trial_run(first, database, monkeypatch)
    made.set_user_attr("mnist_tune", {**made.user_attrs["mnist_tune"], "notes": 0})
    with pytest.raises(PipelineError, match="was made by another mnist-tune"):
        study.run_study(SPEC, total=2, jobs=1, root=first, storage=database)
    assert _states(database) == ["COMPLETE"]


def test_a_trial_failed_meanwhile_by_another_worker_is_said_and_left_failed(
    clones, database, monkeypatch, caplog
):
    # Its worker lived, but its heartbeats were held up past the grace: another failed it.
    def during(name, params):
        [running] = _load(database).get_trials(states=[optuna.trial.TrialState.RUNNING])
        _load(database).tell(running.number, state=optuna.trial.TrialState.FAIL)

    _fake_trials(monkeypatch, during=during)
    with caplog.at_level("WARNING", logger=shared.logger.name):
        run = study.run_study(SPEC, total=1, jobs=1, root=clones[0], storage=database)
    assert run.completed == 1 and _states(database) == ["FAIL"]
    assert "trial 0 was failed meanwhile: no heartbeat reached the study in time" in caplog.text

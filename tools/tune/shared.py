"""What a study shared by several mnist-tune workers needs beyond a study of one (the
storage itself: tools.tune.storage):

- the study's stamp: the project's git commit, the search space's hash and the format of
  mnist-tune's notes, recorded by the first worker; a worker whose stamp differs is
  refused before it touches the study, as its trials would not be comparable;
- the quota: `--trials N` is the study's total, re-read before each start (every worker's
  complete and running trials count), and a worker with nothing to start waits while
  others' trials run, failing those whose worker stopped beating, so their retries run;
- the heartbeats of this worker's running trials, from a thread of their own (Optuna
  beats only for `study.optimize`, and mnist-tune asks and tells);
- which trials are this worker's: a trial left running by an earlier run in this clone is
  failed at once (the clone's lock says no run of it is alive); another's never, only once
  its heartbeats have stopped for the grace period.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import subprocess
import threading
import warnings
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from tools.tune.space import TuneSpec
from tools.tune.storage import Shared

logger = logging.getLogger(__package__)

NOTES_FORMAT = 1  # the version of what mnist-tune records in a study; bumped when it changes
_STAMP = "mnist_tune"  # the study's user attribute holding its stamp
_WORKER = "mnist_tune_worker"  # a trial's system attribute: the worker that runs it


def space_hash(spec: TuneSpec) -> str:
    """A short hash of what the trials search: the seed and every dimension."""
    space = [
        {**{f: getattr(d, f) for f in ("key", "low", "high", "log", "step")},
         "kind": d.kind.__name__, "choices": list(d.choices)}
        for d in spec.space
    ]  # fmt: skip
    text = json.dumps({"seed": spec.seed, "space": space}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def project_commit(root: Path) -> str:
    """The git commit the project's trials run from.

    Raises:
        PipelineError: outside a git project with a commit.
    """
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise PipelineError(
            "mnist-tune: a shared study runs from a git commit, and this folder has none; "
            "commit the project first"
        ) from None


def stamp(spec: TuneSpec, root: Path) -> dict[str, Any]:
    return {"commit": project_commit(root), "space": space_hash(spec), "notes": NOTES_FORMAT}


def check_stamp(study: Any, ours: dict[str, Any]) -> None:
    """Stamps a new study with `ours`; refuses a study stamped otherwise, touching nothing.

    Raises:
        PipelineError: naming what differs, and the fix.
    """
    theirs = study.user_attrs.get(_STAMP)
    if theirs is None:
        study.set_user_attr(_STAMP, ours)
        return
    if theirs == ours:
        return
    name = study.study_name
    if theirs.get("notes") != ours["notes"]:
        fix = "run the mnist-tune that made it, or start another study"
        raise PipelineError(f"mnist-tune: study {name!r} was made by another mnist-tune; {fix}")
    if theirs.get("space") != ours["space"]:
        raise PipelineError(
            f"mnist-tune: study {name!r} searches another space than this tune.yaml; use the "
            "study's tune.yaml, or another `study:` name"
        )
    commit = str(theirs.get("commit"))[:12]
    raise PipelineError(
        f"mnist-tune: study {name!r} runs from commit {commit}, this clone is at "
        f"{ours['commit'][:12]}; check that commit out (git checkout {commit})"
    )


def git_remote(root: Path, name: str = "origin") -> str | None:
    """The git remote a shared study's trials are pushed to, if the clone has it."""
    found = subprocess.run(["git", "remote", "get-url", name], cwd=root, capture_output=True)
    return name if found.returncode == 0 else None


def worker_id(root: Path) -> str:
    """This worker: the machine and the clone (one mnist-tune runs in a clone at a time)."""
    return f"{socket.gethostname()}:{root.resolve()}"


def claim(storage: Any, trial: Any, worker: str) -> None:
    """Marks `trial` as `worker`'s, and beats for it once, before anything can kill it."""
    storage.set_trial_system_attr(trial._trial_id, _WORKER, worker)
    storage.record_heartbeat(trial._trial_id)


def fail_own_left_running(study: Any, worker: str) -> list[int]:
    """Fails the trials an earlier run in this clone left running (it was killed).

    Returns:
        Their numbers.
    """
    import optuna

    running = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING])
    own = [t for t in running if t.system_attrs.get(_WORKER) == worker]
    for trial in own:
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    return [trial.number for trial in own]


def still_running(study: Any, trial: Any) -> bool:
    """Whether this worker's `trial` is still running in the study, as it ends here: a
    worker whose heartbeats were held up past the grace period (a stalled machine or
    network) finds its trial failed by another, and retried. Said, and left as it is."""
    import optuna

    if study._storage.get_trial(trial._trial_id).state == optuna.trial.TrialState.RUNNING:
        return True
    logger.warning(
        "trial %d was failed meanwhile: no heartbeat reached the study in time (see --grace)",
        trial.number,
    )
    return False


def fail_stale(study: Any) -> None:
    """Fails other workers' trials whose heartbeats stopped; each is retried (storage)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


class Heartbeats:
    """A thread that beats for this worker's running trials every `interval` seconds."""

    def __init__(self, storage: Any, interval: float, worker: str):
        self.worker = worker
        self._storage = storage
        self._interval = interval
        self._trials: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeats", daemon=True)

    def __enter__(self) -> Heartbeats:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def add(self, trial: Any) -> None:
        with self._lock:
            self._trials.add(trial._trial_id)

    def remove(self, trial: Any) -> None:
        with self._lock:
            self._trials.discard(trial._trial_id)

    def _beat(self) -> None:
        failing = False  # said once while beats fail, again once one gets through
        while not self._stop.wait(self._interval):
            with self._lock:
                trials = sorted(self._trials)
            for trial_id in trials:
                try:
                    self._storage.record_heartbeat(trial_id)
                except Exception as error:  # the next beat may get through: say, go on
                    if not failing:
                        said = str(getattr(error, "orig", None) or error).splitlines()[0][:70]
                        logger.warning("heartbeats not recorded (%s): retrying", said)
                    failing = True
                    continue
                if failing:
                    logger.info("heartbeats recorded again")
                failing = False


def _counts(study: Any) -> tuple[int, int]:
    """The study's complete and running trials, every worker's."""
    import optuna

    states = [t.state for t in study.get_trials(deepcopy=False)]
    running = states.count(optuna.trial.TrialState.RUNNING)
    return states.count(optuna.trial.TrialState.COMPLETE), running


class SharedQuota:
    """`--trials` as the study's total, re-read before each start."""

    def __init__(self, storage: Shared, total: int):
        self.total = total
        self.poll: float | None = storage.heartbeat  # how often a waiting worker looks
        self._started = 0

    def start(self, study: Any) -> str:
        complete, running = _counts(study)
        return f"{complete} of {self.total} trials complete, {running} running"

    def more(self, study: Any) -> bool:
        """Whether this worker starts another trial now. Never more than `total` in one
        run, so trials that keep failing cannot keep it going."""
        if self._started >= self.total:
            return False
        fail_stale(study)
        complete, running = _counts(study)
        return complete + running < self.total

    def took(self) -> None:
        self._started += 1

    def waits(self, study: Any) -> bool:
        """With none of its own running: whether to wait for others' trials, which may die
        and leave their retries to this worker."""
        complete, running = _counts(study)
        return self._started < self.total and complete < self.total and running > 0

    def progress(self, run: Any, seconds: float, completes: bool) -> str:
        """Said as a trial ends, before it is told: counted if it `completes`."""
        complete = _counts(run.study)[0] + completes
        return f"{complete}/{self.total} complete in the study, {seconds:.0f} s"

"""The study: Optuna's TPE proposes params, each trial runs as a DVC experiment of the whole
pipeline (`dvc exp run --temp`, tools.tune.trials), and its result is read back from the
experiment's commit.

Trials are ranked by the last epoch's validation accuracy; test accuracy is recorded for
the report, never used to choose. The study lives in Optuna's SQLite storage under tune/,
so running again resumes it; a trial that fails is recorded as failed with its reason. Or
it lives in a PostgreSQL database that workers in several clones share (tools.tune.storage,
tools.tune.shared), each adding trials to it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from pipeline import logs, outputs
from pipeline.errors import PipelineError
from pipeline.record import Record
from tools.table import short_names
from tools.tune import shared
from tools.tune.space import TuneSpec
from tools.tune.storage import Shared, open_rdb
from tools.tune.trials import INTERRUPTED, TrialResult, Trials, remove_left_running

logger = logging.getLogger(__package__)

STUDIES = Path("tune")  # Optuna's storage and the search's plots, git-ignored


@dataclasses.dataclass(frozen=True)
class TrialNotes(Record):
    """What a trial records beside Optuna's own fields, as its user attributes: written and
    read through this class only (`note`, `of`), so the report cannot misread a field."""

    experiment: str  # the DVC experiment that ran it
    test_accuracy: float | None = None  # once it finished: reported, never used to choose
    error: str | None = None  # once it failed: why

    def note(self, trial: Any) -> None:
        for key, value in self.to_json().items():
            trial.set_user_attr(key, value)

    @classmethod
    def of(cls, trial: Any) -> TrialNotes:
        """A stored trial's notes; what a trial stopped before it was noted lacks, the
        defaults (an earlier mnist-tune noted `error` and `test_accuracy` only once known).

        Raises:
            PipelineError: the study's trial holds a note this mnist-tune does not know.
        """
        known = {"experiment": f"trial {trial.number}", "test_accuracy": None, "error": None}
        try:
            return cls.from_json(known | trial.user_attrs)
        except ValueError as error:
            raise PipelineError(
                f"mnist-tune: trial {trial.number} of the study holds notes this version does "
                f"not read ({error}); start a new study (another `study:` in tune.yaml)"
            ) from None


def _storage(root: Path) -> Path:
    """The SQLite file of Optuna's storage, where every study of the project lives."""
    return root / STUDIES / "studies.db"


def sampler(spec: TuneSpec, number: int) -> Any:
    """The sampler that proposes trial `number`: TPE seeded by the study's seed and the
    trial's number, so a resumed study proposes what an uninterrupted one would, and never
    replays its first trials.

    Constant liar: trials running in parallel count as bad guesses until they end, so the
    sampler does not propose the same point to both workers.
    """
    import numpy as np
    import optuna

    seed = int(np.random.SeedSequence([spec.seed, number]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def _study(spec: TuneSpec, root: Path, storage: Shared | None) -> Any:
    study = _local_study(spec, root) if storage is None else _shared_study(spec, root, storage)
    # A trial whose `dvc exp run` was killed too (SIGKILL, or a stop past its grace) is an
    # experiment DVC lists as running for good, with a temp folder no DVC command removes.
    names = [experiment_name(spec, trial.number) for trial in study.get_trials(deepcopy=False)]
    for name in remove_left_running(root, names):
        logger.warning("experiment %s was left running by a killed trial: removed", name)
    return study


def _local_study(spec: TuneSpec, root: Path) -> Any:
    import optuna

    storage = f"sqlite:///{_storage(root).resolve()}"
    study = optuna.create_study(
        study_name=spec.study, storage=storage, direction="maximize", load_if_exists=True
    )
    for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
        # Left running by an earlier mnist-tune that was killed: it will never end.
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        logger.warning("trial %d was left running by an earlier mnist-tune: failed", trial.number)
    return study


def _shared_study(spec: TuneSpec, root: Path, storage: Shared) -> Any:
    """The study on the shared database, checked against this clone before anything in it
    changes; this clone's trials an earlier run left running, failed."""
    import optuna

    ours = shared.stamp(spec, root)  # refused outside git before the database is touched
    rdb = open_rdb(storage)
    try:
        shared.check_stamp(optuna.load_study(study_name=spec.study, storage=rdb), ours)
    except KeyError:  # a new study, or one made meanwhile by another worker: stamped or not
        study = optuna.create_study(
            study_name=spec.study, storage=rdb, direction="maximize", load_if_exists=True
        )
        shared.check_stamp(study, ours)
    study = optuna.load_study(study_name=spec.study, storage=rdb)
    for number in shared.fail_own_left_running(study, shared.worker_id(root)):
        logger.warning("trial %d was left running by an earlier mnist-tune here: failed", number)
    return study


def existing_study(spec: TuneSpec, root: Path, storage: Shared | None = None) -> Any:
    """The study tune.yaml names, as it is; creating nothing.

    Raises:
        PipelineError: if it has not been run yet, or its shared database is out of reach.
    """
    import optuna

    if storage is not None:
        try:
            return optuna.load_study(study_name=spec.study, storage=open_rdb(storage))
        except KeyError:
            raise PipelineError(
                f"mnist-tune: no study {spec.study!r} at {storage.where} yet; run mnist-tune "
                "--trials N first"
            ) from None
    path = _storage(root)
    try:
        if not path.is_file():
            raise KeyError(spec.study)
        return optuna.load_study(study_name=spec.study, storage=f"sqlite:///{path.resolve()}")
    except KeyError:
        raise PipelineError(
            f"mnist-tune: no study {spec.study!r} yet; run mnist-tune --trials N first"
        ) from None


def experiment_name(spec: TuneSpec, number: int) -> str:
    return f"{spec.study}-{number:03d}"


def _start(
    study: Any, spec: TuneSpec, trials: Trials, pool: ThreadPoolExecutor, beats: Any
) -> tuple:
    study.sampler = sampler(spec, len(study.get_trials(deepcopy=False)))
    with warnings.catch_warnings():
        # Optuna's note that heartbeats go with `optimize`: here they beat from a thread.
        warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
        trial = study.ask()
    if beats is not None:  # shared: others ask meanwhile, so seed by the number it got
        shared.claim(study._storage, trial, beats.worker)
        beats.add(trial)
        study.sampler = sampler(spec, trial.number)
    name = experiment_name(spec, trial.number)
    TrialNotes(name).note(trial)  # before anything that a stop could interrupt
    params = {dimension.key: dimension.suggest(trial) for dimension in spec.space}
    for line in proposed(spec, name, params):
        logger.info("%s", line)
    return pool.submit(trials.run, name, params), trial


def proposed(spec: TuneSpec, name: str, params: dict[str, Any]) -> list[str]:
    """The lines that say what a trial tries: the keys it searches, by their short names (a
    fixed choice says nothing), floats to 4 significant digits, as many lines of 120
    columns as they take (the experiment holds the exact values)."""
    keys = [d.key for d in spec.space if len(d.choices) != 1]
    names = short_names(keys)
    words = [f"{names[key]}={_shown(params[key])}" for key in keys]
    head = f"trial {name}:"
    room = logs.message_room(logger, logging.INFO)
    lines = [head]
    for word in words:
        if len(lines[-1]) + 1 + len(word) > room and lines[-1] != head:
            lines.append(head)
        lines[-1] += f" {word}"
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _finish(study: Any, trial: Any, result: TrialResult | str, progress: str) -> None:
    import optuna

    notes = TrialNotes.of(trial)
    name = notes.experiment
    if isinstance(result, str):
        dataclasses.replace(notes, error=result).note(trial)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        said = f"trial {name} failed ({progress}): {result}"
        room = logs.message_room(logger, logging.WARNING)
        # The whole reason stays in the study (mnist-tune --report) and DVC's output above.
        logger.warning("%s", said if len(said) <= room else f"{said[: room - 3]}...")
        return
    dataclasses.replace(notes, test_accuracy=result.test_accuracy).note(trial)
    study.tell(trial, result.val_accuracy)
    logger.info("trial %s: val accuracy %.4f (%s)", name, result.val_accuracy, progress)


@dataclasses.dataclass
class Run:
    """A run of mnist-tune: the study, and how its own trials ended."""

    study: Any
    completed: int = 0
    failed: int = 0


def _complete(study: Any) -> int:
    import optuna

    return len(study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]))


def run_study(
    spec: TuneSpec, *, total: int, jobs: int, root: Path, storage: Shared | None = None
) -> Run:
    """Runs as many trials as the study lacks of `total` complete ones, `jobs` at a time. A
    failed trial is recorded as failed with its reason; the next run makes up for it.

    On a shared `storage`, `total` is the study's, every worker's trials counting, re-read
    before each start; a worker dead for the grace period has its trial failed and retried.

    Raises:
        PipelineError: at once, while another mnist-tune runs in the project (one at a
            time: each removes the experiments killed trials left, and a trial another run
            is still preparing looks just like one); for a shared study this clone's commit
            or tune.yaml does not match, or a database out of reach.
        KeyboardInterrupt: after stopping the running trials, DVC cleaning up after each,
            and recording them as failed.
    """
    (root / STUDIES).mkdir(exist_ok=True)
    with outputs.exclusive_lock(_storage(root)) as lock:
        # The trials hold the lock too: if this process is killed, it stays held until
        # the last of them has ended (they get SIGTERM as it dies: tools.tune.as_trial).
        run = Run(_study(spec, root, storage))
        if storage is None:
            trials = Trials(root, held=(lock.fileno(),))
            return _run_study(spec, _Quota(total), jobs, trials, None, run)
        if (remote := shared.git_remote(root)) is None:
            logger.warning("no git remote 'origin': this clone's trials stay here, unpushed")
        trials = Trials(root, held=(lock.fileno(),), push_to=remote)
        beats = shared.Heartbeats(run.study._storage, storage.heartbeat, shared.worker_id(root))
        with beats:
            return _run_study(spec, shared.SharedQuota(storage, total), jobs, trials, beats, run)


class _Quota:
    """A study of one worker: the trials to run, counted once at the start."""

    poll = None  # its trials' ends are all there is to wait for

    def __init__(self, total: int):
        self.total = total

    def start(self, study: Any) -> str:
        complete = _complete(study)
        self.left = self.planned = max(self.total - complete, 0)
        return f"{complete} trials complete, {self.left} to run"

    def more(self, study: Any) -> bool:
        return self.left > 0

    def took(self) -> None:
        self.left -= 1

    def waits(self, study: Any) -> bool:
        return False

    def progress(self, run: Run, seconds: float, completes: bool) -> str:
        return f"{run.completed + run.failed}/{self.planned} done, {seconds:.0f} s"


def _run_study(spec: TuneSpec, quota: Any, jobs: int, trials: Trials, beats: Any, run: Run) -> Run:
    logger.info("study %s: %s, %d at a time", spec.study, quota.start(run.study), jobs)
    running, started = {}, time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while True:
                while len(running) < jobs and quota.more(run.study):
                    future, trial = _start(run.study, spec, trials, pool, beats)
                    running[future] = trial
                    quota.took()
                if not running:
                    if not quota.waits(run.study):
                        break
                    time.sleep(quota.poll)  # others' trials run: one may die, to retry here
                    continue
                done, _ = wait(running, timeout=quota.poll, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    run.failed += isinstance(result, str)
                    run.completed += not isinstance(result, str)
                    trial = running.pop(future)
                    if beats is not None:
                        beats.remove(trial)
                    seconds = time.perf_counter() - started
                    progress = quota.progress(run, seconds, not isinstance(result, str))
                    if beats is None or shared.still_running(run.study, trial):
                        _finish(run.study, trial, result, progress)
        except KeyboardInterrupt:
            trials.stop()
            _record_interrupted(run.study, running)
            raise
    return run


def _record_interrupted(study: Any, running: dict[Future, Any]) -> None:
    import optuna

    for trial in running.values():
        dataclasses.replace(TrialNotes.of(trial), error=INTERRUPTED).note(trial)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)

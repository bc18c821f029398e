"""The study: Optuna's TPE proposes params, each trial runs as a DVC experiment of the whole
pipeline (`dvc exp run --temp`, tools.tune.trials), and its result is read back from the
experiment's commit.

Trials are ranked by the last epoch's validation accuracy; test accuracy is recorded for
the report, never used to choose. The study lives in Optuna's SQLite storage under tune/,
so running again resumes it; a trial that fails is recorded as failed with its reason.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from pipeline import logs, outputs
from pipeline.errors import PipelineError
from pipeline.record import Record
from tools.table import short_names
from tools.tune.space import TuneSpec
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


def _study(spec: TuneSpec, root: Path) -> Any:
    import optuna

    storage = f"sqlite:///{_storage(root).resolve()}"
    study = optuna.create_study(
        study_name=spec.study, storage=storage, direction="maximize", load_if_exists=True
    )
    for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
        # Left running by an earlier mnist-tune that was killed: it will never end.
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        logger.warning("trial %d was left running by an earlier mnist-tune: failed", trial.number)
    # A trial whose `dvc exp run` was killed too (SIGKILL, or a stop past its grace) is an
    # experiment DVC lists as running for good, with a temp folder no DVC command removes.
    names = [experiment_name(spec, trial.number) for trial in study.get_trials(deepcopy=False)]
    for name in remove_left_running(root, names):
        logger.warning("experiment %s was left running by a killed trial: removed", name)
    return study


def existing_study(spec: TuneSpec, root: Path) -> Any:
    """The study tune.yaml names, as it is; creating nothing.

    Raises:
        PipelineError: if it has not been run yet.
    """
    import optuna

    storage = _storage(root)
    try:
        if not storage.is_file():
            raise KeyError(spec.study)
        return optuna.load_study(study_name=spec.study, storage=f"sqlite:///{storage.resolve()}")
    except KeyError:
        raise PipelineError(
            f"mnist-tune: no study {spec.study!r} yet; run mnist-tune --trials N first"
        ) from None


def experiment_name(spec: TuneSpec, number: int) -> str:
    return f"{spec.study}-{number:03d}"


def _start(study: Any, spec: TuneSpec, trials: Trials, pool: ThreadPoolExecutor) -> tuple:
    study.sampler = sampler(spec, len(study.get_trials(deepcopy=False)))
    trial = study.ask()
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


def run_study(spec: TuneSpec, *, total: int, jobs: int, root: Path) -> Run:
    """Runs as many trials as the study lacks of `total` complete ones, `jobs` at a time. A
    failed trial is recorded as failed with its reason; the next run makes up for it.

    Raises:
        PipelineError: at once, while another mnist-tune runs in the project (one at a
            time: each removes the experiments killed trials left, and a trial another run
            is still preparing looks just like one).
        KeyboardInterrupt: after stopping the running trials, DVC cleaning up after each,
            and recording them as failed.
    """
    (root / STUDIES).mkdir(exist_ok=True)
    with outputs.exclusive_lock(_storage(root)) as lock:
        # The trials hold the lock too: if this process is killed, it stays held until
        # the last of them has ended (they get SIGTERM as it dies: tools.tune.as_trial).
        return _run_study(spec, total, jobs, Trials(root, held=(lock.fileno(),)))


def _run_study(spec: TuneSpec, total: int, jobs: int, trials: Trials) -> Run:
    run = Run(_study(spec, trials.root))
    planned = to_run = max(total - _complete(run.study), 0)
    logger.info(
        "study %s: %d trials complete, %d to run, %d at a time",
        spec.study, _complete(run.study), to_run, jobs,
    )  # fmt: skip
    running, started = {}, time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while to_run or running:
                while to_run and len(running) < jobs:
                    future, trial = _start(run.study, spec, trials, pool)
                    running[future], to_run = trial, to_run - 1
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    run.failed += isinstance(result, str)
                    run.completed += not isinstance(result, str)
                    ended = run.completed + run.failed
                    progress = f"{ended}/{planned} done, {time.perf_counter() - started:.0f} s"
                    _finish(run.study, running.pop(future), result, progress)
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

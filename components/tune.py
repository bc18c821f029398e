"""`mnist-tune`: adaptive hyperparameter search in which every trial is a DVC experiment.

Optuna's TPE sampler, seeded, proposes params from the search space in tune.yaml
(components.tune_space). Each trial is the whole pipeline run as an experiment of its own,
`dvc exp run --temp -n <study>-<trial> -S <params> -S evaluate.push=false`, `--jobs` at a
time: ingest and preprocess come from DVC's cache, train and evaluate run. Trials are
ranked by the last epoch's validation accuracy; test accuracy is reported for the best
trial only, never used to choose, and no trial pushes a model. The study lives in Optuna's
SQLite storage under tune/, so running mnist-tune again resumes it, adding trials up to
`--trials`; a trial that fails (DVC's parallel runs can lose one) is recorded as failed with
its reason and the study goes on.

    mnist-tune --trials 20 --jobs 2      # run (or resume) the study tune.yaml names
    mnist-tune --report                  # its best trials and plots, running nothing
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from components import tune_report
from components.tune_space import SPACE_FILE, TuneSpec, load_space, overrides
from pipeline import cli
from pipeline.errors import PipelineError

logger = logging.getLogger(__name__)

STUDIES = Path("tune")  # Optuna's storage and the search's plots, git-ignored
NO_PUSH = "evaluate.push=false"


class Trials:
    """Trials as DVC experiments: started as processes, read back from their git commits."""

    def __init__(self, root: Path):
        self.root = root
        self.running: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def run(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Runs one trial to its end.

        Returns:
            {"val_accuracy", "test_accuracy"}, or {"error": why} if it failed.
        """
        command = ["dvc", "exp", "run", "--temp", "-n", name]
        for override in [*overrides(params), NO_PUSH]:
            command += ["-S", override]
        process = subprocess.Popen(
            command,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C is mnist-tune's to handle, not each trial's
        )
        with self._lock:
            self.running[name] = process
        output, _ = process.communicate()
        with self._lock:
            self.running.pop(name, None)
        if process.returncode != 0:
            return {"error": _last_error(output) or f"dvc exp run exited {process.returncode}"}
        return tune_report.experiment_metrics(self.root, name)

    def stop(self) -> None:
        """Kills every trial still running, with its whole process group."""
        with self._lock:
            for process in self.running.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)


def _last_error(output: str) -> str:
    lines = [line for line in output.splitlines() if "ERROR" in line]
    return (lines[-1] if lines else "").strip()[:300]


def _storage(root: Path) -> Path:
    """The SQLite file of Optuna's storage, where every study of the project lives."""
    return root / STUDIES / "studies.db"


def _study(spec: TuneSpec, root: Path) -> Any:
    import optuna

    (root / STUDIES).mkdir(exist_ok=True)
    storage = f"sqlite:///{_storage(root).resolve()}"
    # Constant liar: trials running in parallel count as bad guesses until they end, so
    # the sampler does not propose the same point to both workers.
    sampler = optuna.samplers.TPESampler(seed=spec.seed, constant_liar=True)
    study = optuna.create_study(
        study_name=spec.study,
        storage=storage,
        direction="maximize",
        sampler=sampler,
        load_if_exists=True,
    )
    for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
        # Left running by an earlier mnist-tune that was killed: it will never end.
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        logger.warning("trial %d was left running by an earlier mnist-tune: failed", trial.number)
    return study


def _existing_study(spec: TuneSpec, root: Path) -> Any:
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
    trial = study.ask()
    params = {dimension.key: dimension.suggest(trial) for dimension in spec.space}
    name = experiment_name(spec, trial.number)
    trial.set_user_attr("experiment", name)
    logger.info("trial %s: %s", name, " ".join(overrides(params)))
    return pool.submit(trials.run, name, params), trial


def _finish(study: Any, trial: Any, result: dict[str, Any], progress: str) -> None:
    import optuna

    name = trial.user_attrs["experiment"]
    if "error" in result:
        trial.set_user_attr("error", result["error"])
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        logger.warning("trial %s failed (%s): %s", name, progress, result["error"])
        return
    trial.set_user_attr("test_accuracy", result["test_accuracy"])  # reported, never used
    study.tell(trial, result["val_accuracy"])
    logger.info("trial %s: val accuracy %.4f (%s)", name, result["val_accuracy"], progress)


def run_study(spec: TuneSpec, *, total: int, jobs: int, root: Path) -> Any:
    """Runs trials until the study holds `total` finished ones, `jobs` at a time.

    Raises:
        KeyboardInterrupt: after killing the running trials and recording them as failed.
    """
    study = _study(spec, root)
    finished = len([t for t in study.get_trials(deepcopy=False) if t.state.is_finished()])
    to_run = max(total - finished, 0)
    logger.info(
        "study %s: %d trials finished, %d to run, %d at a time", spec.study, finished, to_run, jobs
    )
    trials, running, started = Trials(root), {}, time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while to_run or running:
                while to_run and len(running) < jobs:
                    future, trial = _start(study, spec, trials, pool)
                    running[future], to_run = trial, to_run - 1
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    finished += 1
                    progress = f"{finished}/{total} done, {time.perf_counter() - started:.0f} s"
                    _finish(study, running.pop(future), future.result(), progress)
        except KeyboardInterrupt:
            trials.stop()
            _record_interrupted(study, running)
            raise
    return study


def _record_interrupted(study: Any, running: dict[Future, Any]) -> None:
    import optuna

    for trial in running.values():
        trial.set_user_attr("error", "interrupted")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mnist-tune", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials in the study, in all")
    parser.add_argument("--jobs", type=int, default=2, help="trials at a time")
    parser.add_argument("--space", default=SPACE_FILE, help="the search space file")
    parser.add_argument("--report", action="store_true", help="report the study; run nothing")
    args = parser.parse_args(argv)
    cli.setup_logging()
    root = Path.cwd()
    try:
        if args.trials < 1 or args.jobs < 1:
            raise PipelineError("mnist-tune: --trials and --jobs must be at least 1")
        spec = load_space(args.space)
        if args.report:
            study = _existing_study(spec, root)
        else:
            study = run_study(spec, total=args.trials, jobs=args.jobs, root=root)
        print(tune_report.report(study, spec, root))
    except PipelineError as error:
        logger.error("%s", error)
        return 1
    except KeyboardInterrupt:
        logger.error("interrupted: trials that finished are kept in the study; run again to resume")
        return 130
    return 0


def console() -> None:
    """The `mnist-tune` script: the process entry point, where process-wide settings go."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its per-trial lines: ours say more
    sys.exit(main())


if __name__ == "__main__":
    console()

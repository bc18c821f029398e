"""`mnist-tune`: adaptive hyperparameter search in which every trial is a DVC experiment.

Optuna's TPE sampler, seeded, proposes params from the search space in tune.yaml
(tools.tune.space). Each trial is the whole pipeline run as an experiment of its own,
`dvc exp run --temp -n <study>-<trial> -S <params> -S evaluate.push=false`, `--jobs` at a
time: ingest and preprocess come from DVC's cache, train and evaluate run. Trials are
ranked by the last epoch's validation accuracy; test accuracy is reported for the best
trial only, never used to choose, and no trial pushes a model. The study lives in Optuna's
SQLite storage under tune/, so running mnist-tune again resumes it, adding trials up to
`--trials`; a trial that fails (DVC's parallel runs can lose one) is recorded as failed with
its reason and the study goes on. With `--storage` (or MNIST_TUNE_STORAGE) the study lives in
a PostgreSQL database instead, which mnist-tune in several clones shares (docs/tuning.md).

    mnist-tune --trials 20 --jobs 2      # run (or resume) the study tune.yaml names
    mnist-tune --report                  # its best trials and plots, running nothing
    MNIST_TUNE_STORAGE=postgresql://tune@db.example/tune mnist-tune --trials 40   # on each machine
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipeline import boundary
from pipeline.errors import PipelineError
from tools.inputs import unseen_folder
from tools.tune import report
from tools.tune.space import SPACE_FILE, load_space
from tools.tune.storage import GRACE, MIN_GRACE, STORAGE_ENV, shared
from tools.tune.study import existing_study, run_study

logger = logging.getLogger(__package__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mnist-tune", description=__doc__.splitlines()[0])
    runs = parser.add_mutually_exclusive_group(required=True)
    runs.add_argument("--trials", type=int, help="complete trials the study should hold")
    runs.add_argument("--report", action="store_true", help="report the study; run nothing")
    parser.add_argument("--jobs", type=int, default=2, help="trials at a time (default: 2)")
    parser.add_argument(
        "--space", default=SPACE_FILE, help=f"the search space file (default: {SPACE_FILE})"
    )
    parser.add_argument(
        "--storage",
        help="a PostgreSQL URL, for a study that mnist-tune in several clones shares "
        f"(default: ${STORAGE_ENV}, else tune/studies.db)",
    )
    parser.add_argument(
        "--grace",
        type=int,
        default=GRACE,
        help="a shared study's seconds without a heartbeat before a worker counts as dead, its "
        f"trial failed and retried (default: {GRACE})",
    )
    args = parser.parse_args(argv)
    return boundary.guarded(
        lambda: _tune(args, Path.cwd()),
        "mnist-tune",
        said_by=logger,
        interrupted="interrupted: trials that finished are kept in the study; run again to resume",
    )


def _tune(args: argparse.Namespace, root: Path) -> int:
    """Runs (or resumes) the study, or reports it; the exit status."""
    if (args.trials is not None and args.trials < 1) or args.jobs < 1:
        raise PipelineError("mnist-tune: --trials and --jobs must be at least 1")
    if args.grace < MIN_GRACE:
        raise PipelineError(f"mnist-tune: --grace must be at least {MIN_GRACE} seconds")
    spec = load_space(args.space)
    storage = shared(args.storage, args.grace)
    pull_from = "origin" if storage is not None else None  # where shared trials are pushed
    if args.report:
        print(report.render(existing_study(spec, root, storage), spec, root, pull_from))
        return 0
    if said := unseen_folder(root):  # every trial would fail on DVC's own line
        raise PipelineError(said)  # the log line's prefix names the tool
    run = run_study(spec, total=args.trials, jobs=args.jobs, root=root, storage=storage)
    print(report.render(run.study, spec, root, pull_from))
    if run.failed:
        logger.error(
            "%d of this run's trials failed (listed above); run again to replace them", run.failed
        )
        return 1
    return 0


def console() -> None:
    """The `mnist-tune` script: the process entry point, where process-wide settings go."""
    import matplotlib
    import optuna

    matplotlib.use("Agg")  # the plots are files: no window, wherever this runs
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its per-trial lines: ours say more
    # SIGTERM stops the trials and records them, as Ctrl-C does; a trial's or a study's
    # name reaches an ASCII-only terminal escaped.
    boundary.console(main)


if __name__ == "__main__":
    console()

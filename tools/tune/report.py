"""What mnist-tune reports of a study: the table of the best trials, the best one's test
accuracy, the command that promotes it, and the plots of the search (Optuna's optimisation
history and parameter importances)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from tools.table import WIDTH, short_names, table
from tools.tune.space import TuneSpec
from tools.tune.study import TrialNotes

TOP = 5  # trials in the table


def render(study: Any, spec: TuneSpec, root: Path, pull_from: str | None = None) -> str:
    """The study's best trials by validation accuracy, the best's test accuracy, the
    command to promote it (a shared study's: from the git remote `pull_from`, wherever it
    ran), and where the plots are."""
    import optuna

    trials = study.get_trials(deepcopy=False)
    done = sorted(
        (t for t in trials if t.state == optuna.trial.TrialState.COMPLETE),
        key=lambda t: (-t.value, t.number),
    )
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    lines = [f"study {spec.study}: {len(done)} trials finished, {len(failed)} failed"]
    for trial in failed:
        notes = TrialNotes.of(trial)
        why = notes.error or "left running by an mnist-tune that was killed"
        lines.append(f"  failed {notes.experiment}: {why}"[:WIDTH])
    if not done:
        return "\n".join(lines)
    keys = [d.key for d in spec.space if len(d.choices) != 1]  # a fixed choice says nothing
    names = short_names(keys)
    rows = [["experiment", *(names[k] for k in keys), "val accuracy"]]
    for trial in done[:TOP]:
        values = [_format(trial.params.get(k)) for k in keys]
        rows.append([TrialNotes.of(trial).experiment, *values, f"{trial.value:.4f}"])
    best = TrialNotes.of(done[0])
    name = best.experiment
    lines += ["", *table(rows), ""]
    lines.append(
        f"best: {name}, test accuracy {best.test_accuracy:.4f} "
        "(reported for the best only; trials are ranked on validation)"
    )
    pull = f"dvc exp pull {pull_from} {name} && " if pull_from else ""
    lines.append(f"promote it: {pull}dvc exp apply {name} && dvc exp run -S evaluate.push=true")
    lines += [f"plots: {path}" for path in plot(study, spec, root)]
    return "\n".join(line[:WIDTH] for line in lines)


def _format(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def plot(study: Any, spec: TuneSpec, root: Path) -> list[Path]:
    """Optuna's optimisation history and parameter importances as PNGs under tune/."""
    import optuna
    from matplotlib import pyplot

    made = []
    plots = {
        "history": optuna.visualization.matplotlib.plot_optimization_history,
        "importance": optuna.visualization.matplotlib.plot_param_importances,
    }
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished() and t.value]
    for kind, draw in plots.items():
        if kind == "importance" and len(complete) < 2:
            continue  # importances need trials that differ
        with warnings.catch_warnings():
            # Optuna marks its matplotlib plots experimental: a notice, not this run's news.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # Its note, on a study of few trials, that their importances come out equal: a
            # traceback-like line of its source's path that the plot itself shows.
            warnings.filterwarnings("ignore", "Target and region quantiles", UserWarning)
            axes = draw(study)
        path = root / "tune" / f"{spec.study}-{kind}.png"
        path.parent.mkdir(exist_ok=True)  # a clone that reports a shared study may have none
        axes.figure.tight_layout()
        axes.figure.savefig(path, dpi=100)
        pyplot.close(axes.figure)
        made.append(path.relative_to(root))
    return made

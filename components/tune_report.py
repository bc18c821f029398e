"""What mnist-tune reads back and reports: each trial's metrics from its experiment's git
commit, the table of the best trials, the command that promotes the best, and the plots
of the search (Optuna's optimisation history and parameter importances)."""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path
from typing import Any

from components.compare import WIDTH, short_names, table
from pipeline import artifacts

TOP = 5  # trials in the table


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def experiment_rev(root: Path, name: str) -> str | None:
    """The commit of the experiment called `name` (DVC keeps it under refs/exps/)."""
    refs = _git(root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps")
    for line in refs.splitlines():
        rev, ref = line.split(" ", 1)
        if ref.endswith(f"/{name}"):
            return rev
    return None


def experiment_metrics(root: Path, name: str) -> dict[str, Any]:
    """A finished experiment's last-epoch validation and its test accuracy, from the
    metrics files its commit holds; {"error": why} if DVC kept no such experiment."""
    rev = experiment_rev(root, name)
    if rev is None:
        return {"error": f"dvc exp run succeeded but kept no experiment named {name}"}
    paths = {k: p.relative_to(root) for k, p in artifacts.project_paths(root).items()}
    try:
        live = json.loads(_git(root, "show", f"{rev}:{paths['live']}/metrics.json"))
        test = json.loads(_git(root, "show", f"{rev}:{paths['reports']}/{artifacts.METRICS_FILE}"))
        return {"val_accuracy": live["val"]["accuracy"], "test_accuracy": test["test"]["accuracy"]}
    except (subprocess.CalledProcessError, json.JSONDecodeError, KeyError, TypeError) as error:
        return {"error": f"experiment {name} has no readable metrics ({type(error).__name__})"}


def report(study: Any, spec: Any, root: Path) -> str:
    """The study's best trials by validation accuracy, the best's test accuracy, the
    command to promote it, and where the plots are."""
    import optuna

    trials = study.get_trials(deepcopy=False)
    done = sorted(
        (t for t in trials if t.state == optuna.trial.TrialState.COMPLETE),
        key=lambda t: (-t.value, t.number),
    )
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    lines = [f"study {spec.study}: {len(done)} trials finished, {len(failed)} failed"]
    for trial in failed:
        lines.append(
            f"  failed {trial.user_attrs.get('experiment', trial.number)}: "
            f"{trial.user_attrs.get('error', 'interrupted')}"[:WIDTH]
        )
    if not done:
        return "\n".join(lines)
    keys = [d.key for d in spec.space if len(d.choices) != 1]  # a fixed choice says nothing
    names = short_names(keys)
    rows = [["experiment", *(names[k] for k in keys), "val accuracy"]]
    for trial in done[:TOP]:
        values = [_format(trial.params.get(k)) for k in keys]
        rows.append([trial.user_attrs["experiment"], *values, f"{trial.value:.4f}"])
    best = done[0]
    name = best.user_attrs["experiment"]
    lines += ["", *table(rows), ""]
    lines.append(
        f"best: {name}, test accuracy {best.user_attrs['test_accuracy']:.4f} "
        "(reported for the best only; trials are ranked on validation)"
    )
    lines.append(f"promote it: dvc exp apply {name} && dvc exp run -S evaluate.push=true")
    lines += [f"plots: {path}" for path in plot(study, spec, root)]
    return "\n".join(line[:WIDTH] for line in lines)


def _format(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def plot(study: Any, spec: Any, root: Path) -> list[Path]:
    """Optuna's optimisation history and parameter importances as PNGs under tune/."""
    import matplotlib

    matplotlib.use("Agg")
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
            axes = draw(study)
        path = root / "tune" / f"{spec.study}-{kind}.png"
        axes.figure.tight_layout()
        axes.figure.savefig(path, dpi=100)
        pyplot.close(axes.figure)
        made.append(path.relative_to(root))
    return made

"""`make bench-tune-shared`: one small study three ways, to weigh a shared study's mechanism.

The same study (tune.yaml below: a tiny MLP on a folder of shapes, bench.shapes, its learning
rate, width and 1-3 epochs searched; 6 trials, one job per worker), in one session, from
clones of a project pushed to a bare git remote and a folder DVC remote (as
tests/e2e/test_shared_tune.py sets a team up):

- SQLite: one clone, the default storage (tune/studies.db), one worker;
- PostgreSQL, 1 worker: one clone on a database of a server the bench starts (bench.postgres),
  every finished trial pushed to the remotes;
- PostgreSQL, 2 clones at once on another database, each its own mnist-tune.

Each: its wall time, the study's best validation accuracy, and which worker ran how many
trials. On one 2-core machine this is the mechanism's overhead and the two workers'
contention, not the speed-up two machines would give. Writes bench/results/tune_shared.json;
docs/tuning.md shows it.

    DATA_MIRROR=../shared/data/mnist python -m bench.tune_shared
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from bench import postgres, report
from bench.measure import measure, scratch_env
from bench.run import fresh_clone
from bench.shapes import shapes_folder
from tools.table import markdown
from tools.tune.storage import STORAGE_ENV, open_rdb, shared

STUDY = "shapes"
SEED = 5  # the shapes drawn and the sampler's seed
COUNTS = {"train": 100, "test": 30}  # images a class
SETTINGS = [
    "data.dataset=folder", "data.folder=data/images", "train.model=mlp", "train.epochs=1",
    "train.min_steps=0", "train.hidden_layer_size=8", "evaluate.min_accuracy=0.3",
]  # fmt: skip
SPACE = {
    "train.learning_rate": {"low": 0.001, "high": 0.03, "log": True},
    "train.hidden_layer_size": {"choices": [8, 32]},
    "train.epochs": {"low": 1, "high": 3},
}
WORKER = "mnist_tune_worker"  # a shared trial's system attribute naming its worker's clone


def _origin(env: dict) -> Path:
    """A clone of this project with the shapes, its pipeline run once, pushed to a bare git
    remote and a folder DVC remote beside it; returns the git remote."""
    origin = fresh_clone(env)
    remotes = origin.with_name(f"{origin.name}-remotes")
    git = remotes / "git"
    shapes_folder(origin / "data" / "images", SEED, counts=COUNTS)
    for command in (
        ["git", "init", "-q", "--bare", "-b", "main", str(git)],
        ["git", "remote", "set-url", "origin", str(git)],
        ["dvc", "remote", "add", "-d", "shared", str(remotes / "dvc")],
        ["dvc", "add", "data/images"],
        ["dvc", "exp", "run", *(f"-S{setting}" for setting in SETTINGS)],
    ):
        measure(command, origin, env)
    (origin / "tune.yaml").write_text(
        yaml.safe_dump({"study": STUDY, "seed": SEED, "space": SPACE})
    )
    for command in (
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "a small study for bench.tune_shared"],
        ["git", "push", "-q", "origin", "HEAD:main"],
        ["dvc", "push"],
    ):
        measure(command, origin, env)
    return git


def _clone(git: Path, name: str, env: dict) -> Path:
    path = git.parent.with_name(f"{git.parent.name}-{name}")
    measure(["git", "clone", "-q", str(git), str(path)], git.parent, env)
    measure(["dvc", "pull"], path, env)
    return path


def _tune(clones: list[Path], env: dict, trials: int) -> float:
    """Wall seconds of one `mnist-tune` in each clone, all started at once."""
    command = ["mnist-tune", "--trials", str(trials), "--jobs", "1"]
    started = time.perf_counter()
    with ThreadPoolExecutor(len(clones)) as pool:
        for run in [pool.submit(measure, command, clone, env) for clone in clones]:
            run.result()
    return time.perf_counter() - started


def _outcome(storage: Any, clones: list[Path]) -> dict:
    """The study's best validation accuracy, its trials, and the complete ones each clone ran
    (a study on SQLite names no worker: its one clone ran them all)."""
    import optuna

    study = optuna.load_study(study_name=STUDY, storage=storage)
    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    workers = [trial.system_attrs.get(WORKER, str(clones[0].resolve())) for trial in complete]
    by_clone = [sum(w.endswith(str(clone.resolve())) for w in workers) for clone in clones]
    return {
        "best_val_accuracy": study.best_value,
        "trials": len(study.trials),
        "complete": len(complete),
        "by_clone": by_clone,
    }


def _way(name: str, clones: list[Path], env: dict, storage: Any, trials: int) -> dict:
    load = os.getloadavg()[0]
    print(f"bench-tune-shared: {name}, load average {load:.1f}", flush=True)
    wall = _tune(clones, env, trials)
    row = {"storage": name, "workers": len(clones), "wall_s": wall, "load_before": load}
    row |= _outcome(storage, clones)
    print(f"bench-tune-shared: {row}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    if reason := postgres.missing():
        sys.exit(f"bench-tune-shared: {reason}")
    started = time.perf_counter()
    # The server first: its folder must be one the postgres user reaches, not the scratch's.
    with postgres.running() as server, scratch_env("bench-tune-shared-") as env:
        git = _origin(env)
        rows = []
        local = _clone(git, "sqlite", env)
        sqlite = f"sqlite:///{(local / 'tune' / 'studies.db').resolve()}"
        rows.append(_way("SQLite", [local], env, sqlite, args.trials))
        for database, count in (("one", 1), ("two", 2)):
            url = postgres.create_database(server, database)
            clones = [_clone(git, f"{database}-{n}", env) for n in range(count)]
            rdb = open_rdb(shared(url))
            rows.append(_way("PostgreSQL", clones, {**env, STORAGE_ENV: url}, rdb, args.trials))
    results = {
        "study": {"trials": args.trials, "counts": COUNTS, "space": SPACE, "settings": SETTINGS},
        "rows": rows,
        "cpus": os.cpu_count(),
        "seconds": time.perf_counter() - started,
    }
    print(report.publish("tune_shared", results))


def table(results: dict) -> str:
    """Wall time and best validation accuracy of the study, on each storage and worker count."""
    rows = [
        [
            f"{row['storage']}, {row['workers']} worker{'s' if row['workers'] > 1 else ''}",
            f"{row['wall_s']:.0f}",
            f"{row['best_val_accuracy']:.4f}",
            f"{row['complete']} of {row['trials']}",
            " + ".join(str(n) for n in row["by_clone"]),
            f"{row['load_before']:.1f}",
        ]
        for row in results["rows"]
    ]
    head = ["storage, workers", "wall s", "best val accuracy", "trials complete", "by clone"]
    study = results["study"]
    return (
        f"{markdown([*head, 'load average before'], rows)}\n\n"
        f"{study['trials']} trials a study; {results['cpus']} CPUs; bench time "
        f"{results['seconds'] / 60:.0f} min.\n"
    )


SECTIONS = {"tune_shared": table}


if __name__ == "__main__":
    main()

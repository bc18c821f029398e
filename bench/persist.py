"""`make bench-persist`: what `persist: true` on every output costs, against DVC's default.

Two fresh clones, one as committed (every output `persist: true`, so a failed stage keeps
its previous outputs) and one with `persist` taken out of dvc.yaml (DVC deletes outputs
before a stage runs, and restores them from its run-cache). In each: `dvc repro`, then
`dvc exp run -S train.epochs=1` (train and evaluate run), then `dvc exp run -S
train.epochs=5`, back to the params of the first run: the case the run-cache serves.

    DATA_MIRROR=../shared/data/mnist python -m bench.persist
"""

from __future__ import annotations

import time
from pathlib import Path

from bench import report
from bench.measure import measure, scratch_env
from bench.run import fresh_clone
from tools.table import markdown


def _without_persist(clone: Path) -> None:
    dvc_yaml = clone / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("persist: true", "persist: false"))
    measure(["git", "commit", "-qam", "bench: DVC's default, no persist"], clone)


def _steps(clone: Path, env: dict) -> dict:
    steps = {}
    steps["repro"] = measure(["dvc", "repro"], clone, env)["wall_s"]
    steps["other_params"] = measure(["dvc", "exp", "run", "-S", "train.epochs=1"], clone, env)[
        "wall_s"
    ]
    back = measure(["dvc", "exp", "run", "-S", "train.epochs=5"], clone, env)
    steps["back_to_first_params"] = back["wall_s"]
    steps["back_ran_stages"] = back["output"].count("Running stage")
    return steps


def main() -> None:
    started = time.perf_counter()
    with scratch_env("bench-persist-") as env:
        persistent = fresh_clone(env)
        default = fresh_clone(env)
        _without_persist(default)
        results = {"persist": _steps(persistent, env), "default": _steps(default, env)}
    results["seconds"] = time.perf_counter() - started
    print(report.publish("persist", results))


def table(results: dict) -> str:
    """Each run's time with persistent outputs against DVC's default."""
    persist, default = results["persist"], results["default"]
    rows = [
        [label, f"{persist[key]:.0f}", f"{default[key]:.0f}", _ratio(persist[key], default[key])]
        for key, label in (
            ("repro", "`dvc repro`, from nothing"),
            ("other_params", "`dvc exp run -S train.epochs=1`"),
            ("back_to_first_params", "`dvc exp run -S train.epochs=5`, back to the first params"),
        )
    ]
    runs = markdown(["run, s", "persist: true", "DVC's default", "ratio"], rows)
    return (
        f"{runs}\n\nBack at the first params, DVC's default ran "
        f"{default['back_ran_stages']} stage(s) (train came from its run-cache); with "
        f"`persist: true`, {persist['back_ran_stages']}. "
        f"Bench time {results['seconds'] / 60:.0f} min.\n"
    )


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}"


SECTIONS = {"persist": table}


if __name__ == "__main__":
    main()

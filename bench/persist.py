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


if __name__ == "__main__":
    main()

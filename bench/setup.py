"""`make bench-setup`: what the README's first command costs on a second fresh clone, against
the pipeline alone.

A new clone's `make repro` sets up `.venv` (the pinned uv, `uv sync` from uv's warm cache,
the shared bytecode linked in) and then runs `dvc repro`; the baseline is a cold `dvc
repro` in that same clone once set up (no outputs, an empty DVC cache). The ratio is what
setting up adds. Repeated in `--repeats` clones, medians reported.

    DATA_MIRROR=../shared/data/mnist python -m bench.setup [--repeats 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time

from bench import report
from bench.measure import measure, scratch_env
from bench.run import fresh_clone
from pipeline import artifacts
from tools.table import markdown

# What `dvc repro` makes, and DVC's cache: removed for a cold run.
GOAL = 1.6  # a fresh clone's `make repro` against a cold `dvc repro` in it, set up
_MADE = [*artifacts.paths.values(), ".dvc/cache", "dvc.lock"]


def _one(env: dict) -> dict:
    clone = fresh_clone(env)
    own = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # the clone's code, not ours
    setup_and_repro = measure(["make", "repro"], clone, own)["wall_s"]
    for made in _MADE:
        path = clone / made
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    venv = {**own, "PATH": f"{clone / '.venv' / 'bin'}:{own['PATH']}"}
    cold = measure(["dvc", "repro"], clone, venv)["wall_s"]
    shutil.rmtree(clone)
    return {"make_repro_s": setup_and_repro, "cold_repro_s": cold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    with scratch_env("bench-setup-") as env:
        runs = [_one(env) for _ in range(args.repeats)]
    results = {
        key: statistics.median(run[key] for run in runs) for key in ("make_repro_s", "cold_repro_s")
    }
    results |= {"runs": runs, "seconds": time.perf_counter() - started}
    print(report.publish("setup", results))


def table(results: dict) -> str:
    """A second fresh clone's `make repro` against a cold `dvc repro` in a set-up clone."""
    make, cold = results["make_repro_s"], results["cold_repro_s"]
    rows = [
        ["`make repro` in a fresh clone (uv's and the bytecode caches warm)", f"{make:.0f}"],
        ["`dvc repro` in that clone, set up, from nothing", f"{cold:.0f}"],
    ]
    ratio = make / cold
    return (
        f"{markdown(['run', 'wall s (median)'], rows)}\n\nSetting up adds {make - cold:.0f} s: "
        f"{ratio:.2f}x the pipeline alone (goal: within {GOAL}x: "
        f"{report.met(ratio, f'<= {GOAL}')}). Bench time {results['seconds'] / 60:.0f} min.\n"
    )


SECTIONS = {"setup": table}


if __name__ == "__main__":
    main()

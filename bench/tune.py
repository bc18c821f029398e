"""`make bench-tune`: the study tune.yaml defines, and what a trial costs over a plain run.

In a fresh clone after `dvc repro`, as a new user has it:

- overhead: the command mnist-tune runs per trial (`dvc exp run --temp -n ... -S
  evaluate.push=false`) against a plain `dvc exp run` of the same params in the workspace,
  `--repeats` times each, with a new train.seed each time so nothing comes from the cache;
- the study: `mnist-tune --trials 20 --jobs 2` with the project's tune.yaml: its wall time,
  its report, and the best trial's test accuracy.

Writes bench/results/tune.json; docs/tuning.md and the README show it.

    DATA_MIRROR=../shared/data/mnist python -m bench.tune
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time

from bench import report
from bench.measure import measure, scratch_env
from bench.run import fresh_clone
from tools.table import markdown


def _overhead(clone, env: dict, repeats: int) -> dict:
    plain, trial = [], []
    for n in range(repeats):
        seed = ["-S", f"train.seed={200 + n}"]
        plain.append(measure(["dvc", "exp", "run", *seed], clone, env)["wall_s"])
        changes = ["-S", f"train.seed={300 + n}", "-S", "evaluate.push=false"]
        command = ["dvc", "exp", "run", "--temp", "-n", f"overhead-{n}", *changes]
        trial.append(measure(command, clone, env)["wall_s"])
    return {
        "plain_s": statistics.median(plain),
        "trial_s": statistics.median(trial),
        "runs": {"plain": plain, "trial": trial},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with scratch_env("bench-tune-") as env:
        clone = fresh_clone(env)
        measure(["dvc", "repro"], clone, env)
        # The study first, from the clone as `make repro` left it, as a new user runs it;
        # then the overhead runs, whose `dvc exp run` changes the workspace's params.
        started = time.perf_counter()
        study = ["mnist-tune", "--trials", str(args.trials), "--jobs", str(args.jobs)]
        output = measure(study, clone, env)["output"]
        results = {
            "study": {
                "trials": args.trials,
                "jobs": args.jobs,
                "wall_s": time.perf_counter() - started,
                "report": output[output.rindex("\nstudy ") :].strip(),  # after the log lines
            }
        }
        compare = measure(["mnist-compare"], clone, {**env, "COLUMNS": "120"})["output"]
        results["compare"] = "\n".join(compare.strip().splitlines()[:6])
        results["overhead"] = _overhead(clone, env, args.repeats)
        for kind in ("history", "importance"):  # the search's plots, for docs/tuning.md
            shutil.copy(clone / "tune" / f"mlp-{kind}.png", report.DOCS / "images")
    print(report.publish("tune", results))


def tables(results: dict) -> str:
    """A trial's cost over a plain run, and the study's own report."""
    overhead, study = results["overhead"], results["study"]
    extra = overhead["trial_s"] - overhead["plain_s"]
    costs = markdown(
        ["run", "wall s (median)"],
        [
            ["dvc exp run -S train.seed=N (workspace)", f"{overhead['plain_s']:.1f}"],
            [
                "a trial: dvc exp run --temp -n ... -S ... -S evaluate.push=false",
                f"{overhead['trial_s']:.1f}",
            ],
            ["overhead per trial", f"{extra:+.1f}"],
        ],
    )
    return (
        f"{costs}\n\nThe study: {study['trials']} trials, {study['jobs']} at a time, "
        f"{study['wall_s'] / 60:.1f} min. Its report:\n\n```\n{study['report']}\n```\n"
    )


def study_output(results: dict) -> str:
    """The study's report as mnist-tune printed it."""
    study = results["study"]
    return (
        f"```\n$ mnist-tune --trials {study['trials']} --jobs {study['jobs']}\n"
        f"...\n{study['report']}\n```\n\n{study['wall_s'] / 60:.0f} minutes in all.\n"
    )


def compare_output(results: dict) -> str:
    """mnist-compare's table after the study, as it printed it."""
    lines = "\n".join(results["compare"].splitlines()[:6])
    return f"```\n$ mnist-compare | head -6\n{lines}\n```\n"


SECTIONS = {"tune": tables, "study": study_output, "compare": compare_output}


if __name__ == "__main__":
    main()

"""`mnist-compare`: experiments side by side in 120 columns, what each changed and how it did.

`dvc exp show` gives every param, metric and dependency hash a column of its own, named in
full: past a few experiments it no longer fits a terminal. This reads its JSON and keeps
the params that differ between the rows (named by their last part where that is unique)
and the headline metrics: the last epoch's validation accuracy, test accuracy, blessed.
Experiments are sorted by validation accuracy, the one to choose by.

    mnist-compare            # the experiments of the current commit
    mnist-compare -A         # and of every commit (`dvc exp show`'s flags pass through)
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline import artifacts, boundary
from pipeline.reports import HeadlineMetrics, TrainingMetrics
from tools.inputs import unseen_folder
from tools.table import short_names, table

logger = logging.getLogger(__name__)


def _flat(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[prefix + key] = value
    return flat


FILES = {  # the metrics files a row reads, as dvc.yaml names them
    "live": artifacts.LIVE_SUMMARY_PATH,
    "test": artifacts.METRICS_PATH,
}


def _metrics(name: str, metrics: dict, file: str, kind: type) -> Any:
    """A row's metrics file, read through its type; None if the row has none yet."""
    data = (metrics.get(file) or {}).get("data")
    if data is None:
        return None
    try:
        return kind.from_json(data)
    except ValueError as error:
        print(
            f"mnist-compare: {name}: {file} is not what the pipeline writes ({error})",
            file=sys.stderr,
        )
        return None


def _row(name: str, data: dict, state: str = "success") -> dict[str, Any]:
    """A row of the table; an experiment that is queued, running or failed has no result
    of its own (DVC can show its baseline's metrics files there): its state says so."""
    params = (data.get("params") or {}).get("params.yaml", {}).get("data", {})
    if state != "success":
        return {"name": f"{name} ({state})", "params": _flat(params), "val": None,
                "test": None, "blessed": None}  # fmt: skip
    metrics = data.get("metrics") or {}
    live = _metrics(name, metrics, FILES["live"], TrainingMetrics)
    test = _metrics(name, metrics, FILES["test"], HeadlineMetrics)
    return {
        "name": name,
        "params": _flat(params),
        "val": live and live.val.accuracy,
        "test": test and test.test.accuracy,
        "blessed": test and test.blessed,
    }


def rows(shown: list[dict]) -> list[dict[str, Any]]:
    """The baselines and their experiments from `dvc exp show --json`."""
    found = []
    for baseline in shown:
        rev = baseline["rev"]
        name = baseline.get("name") or (rev if rev == "workspace" else rev[:7])
        found.append(_row(name, baseline["data"] or {}))
        experiments = [
            _row(exp.get("name") or rev["rev"][:7], rev["data"] or {}, _state(exp))
            for exp in baseline.get("experiments") or []
            for rev in exp["revs"]
        ]
        found += sorted(experiments, key=lambda r: -(r["val"] or 0))
    return found


def _state(experiment: dict) -> str:
    """A queued experiment's state: queued, running, success or failed. One without an
    executor was run in the workspace or with --temp, and kept: a success."""
    return (experiment.get("executor") or {}).get("state") or "success"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def render(found: list[dict[str, Any]]) -> str:
    keys = sorted({key for row in found for key in row["params"]})
    changed = [k for k in keys if len({json.dumps(r["params"].get(k)) for r in found}) > 1]
    names = short_names(changed)
    # The metrics first: a row cut at WIDTH loses params, never the scores.
    header = ["experiment", "val acc", "test acc", "blessed", *(names[k] for k in changed)]
    body = [
        [
            row["name"],
            *(f"{row[m]:.4f}" if row[m] is not None else "-" for m in ("val", "test")),
            _cell(row["blessed"]),
            *(_cell(row["params"].get(k)) for k in changed),
        ]
        for row in found
    ]
    return "\n".join(table([header, *body]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mnist-compare",
        description=__doc__.splitlines()[0],
        epilog="Any other flag goes to `dvc exp show` (-A, --rev, -n, ...).",
    )
    _, passed = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return boundary.guarded(
        lambda: _compare(passed), "mnist-compare", said_by=logger, interrupted=None
    )


def _compare(passed: list[str]) -> int:
    """Prints the table of `dvc exp show --json <passed>`; DVC's status if it fails."""
    shown = subprocess.run(
        ["dvc", "exp", "show", "--json", *passed], capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        sys.stderr.write(shown.stderr)
        return shown.returncode
    found = rows(json.loads(shown.stdout))
    print(render(found))
    if any(row["name"].endswith("(failed)") for row in found):
        _say_unseen_folder()
    return 0


def _say_unseen_folder() -> None:
    """Beside failed experiments, the likeliest reason when it holds: a folder they lack."""
    if said := unseen_folder(Path.cwd()):
        print(f"mnist-compare: {said}", file=sys.stderr)


def console() -> None:
    """The `mnist-compare` script: an experiment's name reaches an ASCII-only terminal
    escaped, and `mnist-compare | head` ends quietly."""
    boundary.console(main)


if __name__ == "__main__":
    console()

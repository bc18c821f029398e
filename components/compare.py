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

import json
import subprocess
import sys
from typing import Any

from pipeline import artifacts
from pipeline.errors import PipelineError

WIDTH = 120


def short_names(keys: list[str]) -> dict[str, str]:
    """Each dotted key by its last part where no other key shares it, else in full."""
    last = [key.rpartition(".")[2] for key in keys]
    return {
        key: name if last.count(name) == 1 else key for key, name in zip(keys, last, strict=True)
    }


def table(rows: list[list[str]]) -> list[str]:
    """Left-aligned columns two spaces apart, no wider than WIDTH (long cells are cut)."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return [line.rstrip()[:WIDTH] for line in lines]


def _flat(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[prefix + key] = value
    return flat


def _row(name: str, data: dict, files: dict[str, str]) -> dict[str, Any]:
    params = (data.get("params") or {}).get("params.yaml", {}).get("data", {})
    metrics = data.get("metrics") or {}
    live = metrics.get(files["live"], {}).get("data", {})
    test = metrics.get(files["test"], {}).get("data", {})
    return {
        "name": name,
        "params": _flat(params),
        "val": (live.get("val") or {}).get("accuracy"),
        "test": (test.get("test") or {}).get("accuracy"),
        "blessed": test.get("blessed"),
    }


def rows(shown: list[dict], files: dict[str, str]) -> list[dict[str, Any]]:
    """The baselines and their experiments from `dvc exp show --json`."""
    found = []
    for baseline in shown:
        rev = baseline["rev"]
        name = baseline.get("name") or (rev if rev == "workspace" else rev[:7])
        found.append(_row(name, baseline["data"] or {}, files))
        experiments = [
            _row(exp.get("name") or rev["rev"][:7], rev["data"] or {}, files)
            for exp in baseline.get("experiments") or []
            for rev in exp["revs"]
        ]
        found += sorted(experiments, key=lambda r: -(r["val"] or 0))
    return found


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
    try:
        paths = artifacts.project_paths()
    except PipelineError as error:
        print(f"mnist-compare: {error}", file=sys.stderr)
        return 1
    files = {  # as dvc.yaml names them, relative to the project
        "live": str(paths["live"] / "metrics.json"),
        "test": str(paths["reports"] / artifacts.METRICS_FILE),
    }
    argv = sys.argv[1:] if argv is None else argv
    shown = subprocess.run(
        ["dvc", "exp", "show", "--json", *argv], capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        sys.stderr.write(shown.stderr)
        return shown.returncode
    print(render(rows(json.loads(shown.stdout), files)))
    return 0


def console() -> None:
    """The `mnist-compare` script."""
    try:
        sys.exit(main())
    except BrokenPipeError:  # `mnist-compare | head`: the reader has what it wanted
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":
    console()

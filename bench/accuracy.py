"""`make bench-accuracy`: the accuracy the docs quote, measured: models and augmentation.

In a fresh clone, after `dvc repro` (the reference MLP), one `dvc exp run` per row: the
MLP and the CNN with their default 5 epochs, each with no augmented copies and with 4
(`preprocess.augment_copies`), and the CNN for 1 epoch. Every row sets all three params, so
none inherits another's. Test accuracy from the experiment's metrics, wall time of the
`dvc exp run` (preprocess re-runs only where the copies change).

    DATA_MIRROR=../shared/data/mnist python -m bench.accuracy
"""

from __future__ import annotations

import time

from bench import report
from bench.measure import headline_metrics, measure, scratch_env
from bench.run import fresh_clone
from tools.table import markdown

ROWS = [  # (model, augment_copies, epochs)
    ("mlp", 0, 5),
    ("mlp", 4, 5),
    ("cnn", 0, 1),
    ("cnn", 0, 5),
    ("cnn", 4, 5),
]


def main() -> None:
    started = time.perf_counter()
    rows = []
    with scratch_env("bench-accuracy-") as env:
        clone = fresh_clone(env)
        measure(["dvc", "repro"], clone, env)
        for model, copies, epochs in ROWS:
            changes = [f"train.model={model}", f"preprocess.augment_copies={copies}"]
            changes.append(f"train.epochs={epochs}")
            command = ["dvc", "exp", "run", *(a for c in changes for a in ("-S", c))]
            run = measure(command, clone, env)
            rows.append(
                {
                    "model": model,
                    "augment_copies": copies,
                    "epochs": epochs,
                    "test_accuracy": headline_metrics(clone).test.accuracy,
                    "wall_s": run["wall_s"],
                }
            )
            print(f"bench-accuracy: {rows[-1]}", flush=True)
    results = {"rows": rows, "seconds": time.perf_counter() - started}
    print(report.publish("accuracy", results))


def table(results: dict) -> str:
    """Each model and augmentation's test accuracy, and its run's time."""
    rows = [
        [
            r["model"],
            str(r["epochs"]),
            str(r["augment_copies"]),
            f"{r['test_accuracy']:.4f}",
            f"{r['wall_s']:.0f}",
        ]
        for r in results["rows"]
    ]
    header = ["model", "epochs", "augment_copies", "test accuracy", "dvc exp run, s"]
    first = results["rows"][0]
    cached = (first["model"], first["augment_copies"], first["epochs"]) == ("mlp", 0, 5)
    note = (
        "The first row is the pipeline as `make repro` leaves it, so its `dvc exp run` "
        "found everything cached. "
        if cached
        else ""
    )
    return f"{markdown(header, rows)}\n\n{note}Bench time {results['seconds'] / 60:.0f} min.\n"


SECTIONS = {"accuracy": table}


if __name__ == "__main__":
    main()

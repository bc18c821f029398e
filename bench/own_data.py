"""`make bench-own-data`: folder datasets, measured: MNIST as PNG files against the IDX
route, scikit-learn's 8x8 digits and a colour dataset of four classes with the MLP and the CNN,
and ingest's memory against the number of files.

In a fresh clone: `dvc repro` (MNIST from the mirror, the baseline), then one `dvc exp run`
per folder dataset, each setting data.dataset and data.folder as docs/own-data.md says.
The folders are written into the clone by bench.folders, from the mirror and from
scikit-learn's package. Ingest's peak RSS is measured on a tenth of MNIST's files and on
all of them, the stage run by itself on each.

    DATA_MIRROR=../shared/data/mnist python -m bench.own_data
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import yaml

import components
from bench import report
from bench.folders import colour_folder, digits_folder, mnist_folder
from bench.measure import headline_metrics, measure, scratch_env
from bench.run import fresh_clone
from components.ingest.mirror import read_mirror
from components.ingest.stage import Paths as IngestPaths
from pipeline import artifacts, schema
from tools.table import markdown

GOAL = 0.003  # MNIST's test accuracy through a folder of PNG files, off the IDX route's
MNIST_COUNTS = {schema.TRAIN: 60_000, schema.TEST: 10_000}
FOLDERS = {  # row: (folder in the clone, the exp run's extra params)
    "mnist_png": ("data/mnist_png", []),
    "digits_mlp": ("data/digits", []),
    "digits_cnn": ("data/digits", ["train.model=cnn"]),
    # 1,433 images make 8 batches an epoch: 5 epochs are 40 steps, too few for the CNN.
    "digits_cnn_50": ("data/digits", ["train.model=cnn", "train.epochs=50"]),
    # Four classes in colour (MNIST's 0-3, ink and paper in random colours): RGB, not ten.
    "colour_mlp": ("data/colour", []),
    "colour_cnn": ("data/colour", ["train.model=cnn"]),
}


def _metrics_and_stats(clone: Path) -> dict:
    paths = artifacts.under(clone)
    stats = json.loads((paths["processed"] / artifacts.STATS_FILE).read_text())
    return {"test_accuracy": headline_metrics(clone).test.accuracy, "stats": stats}


def _ingest_memory(clone: Path, env: dict, folder: str) -> dict:
    """Ingest alone on `folder`: its wall time and peak RSS."""
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["data"].update(dataset="folder", folder=folder)
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = Path(env["TMPDIR"]) / "ingest-alone"
    paths = IngestPaths(out=str(out / "raw"), schema=str(out / "schema.json"))
    run = measure(["python", *components.arguments("ingest", paths)], clone, env)
    files = sum(1 for _ in (clone / folder).rglob("*.png"))
    return {"files": files, "wall_s": run["wall_s"], "peak_rss_mib": run["peak_rss_mib"]}


def main() -> None:
    started = time.perf_counter()
    with scratch_env("bench-own-data-") as env:
        clone = fresh_clone(env)
        mnist = read_mirror(Path(env["DATA_MIRROR"]))
        mnist_folder(mnist, clone / "data/mnist_png", MNIST_COUNTS)
        tenth = {split: n // 10 for split, n in MNIST_COUNTS.items()}
        mnist_folder(mnist, clone / "data/mnist_png_tenth", tenth)
        digits_folder(clone / "data/digits")
        colour_folder(mnist, clone / "data/colour", per_class=1000)
        memory = [_ingest_memory(clone, env, f) for f in ("data/mnist_png_tenth", "data/mnist_png")]
        measure(["git", "checkout", "params.yaml"], clone, env)
        run = measure(["dvc", "repro"], clone, env)
        rows = {"mnist_idx": {**_metrics_and_stats(clone), "wall_s": run["wall_s"]}}
        for name, (folder, extra) in FOLDERS.items():
            changes = ["data.dataset=folder", f"data.folder={folder}", *extra]
            # Each row from the committed params: `dvc exp run -S` leaves its settings in
            # params.yaml, so the row after the CNN's would have run the CNN again.
            measure(["git", "checkout", "params.yaml"], clone, env)
            run = measure(
                ["dvc", "exp", "run", *(a for c in changes for a in ("-S", c))], clone, env
            )
            rows[name] = {**_metrics_and_stats(clone), "wall_s": run["wall_s"]}
            print(f"bench-own-data: {name} {rows[name]['test_accuracy']}", flush=True)
    results = {
        "rows": rows,
        "ingest_memory": memory,
        "cpus": os.cpu_count(),
        "seconds": time.perf_counter() - started,
    }
    print(report.publish("own_data", results))


_DIGITS = "scikit-learn digits, 8x8 (1,433 / 364)"


_OWN_DATA = {  # row: (dataset, params), in the table's order
    "mnist_idx": ("MNIST, IDX files (tfds)", "defaults"),
    "mnist_png": ("MNIST, a folder of PNG files", "defaults"),
    "digits_mlp": (_DIGITS, "defaults (mlp)"),
    "digits_cnn": (_DIGITS, "train.model=cnn"),
    "digits_cnn_50": (_DIGITS, "train.model=cnn train.epochs=50"),
    "colour_mlp": ("MNIST's 0-3 in random colours, 28x28 RGB, 4 classes", "defaults (mlp)"),
    "colour_cnn": ("MNIST's 0-3 in random colours, 28x28 RGB, 4 classes", "train.model=cnn"),
}


def tables(results: dict) -> str:
    """Each folder dataset's score, MNIST's two routes against each other, and ingest's memory."""
    rows = results["rows"]
    scores = markdown(
        ["dataset", "params", "test accuracy", "run, s"],
        [
            [*_OWN_DATA[name], f"{rows[name]['test_accuracy']:.4f}", f"{rows[name]['wall_s']:.0f}"]
            for name in _OWN_DATA
            if name in rows
        ],
    )
    gap = abs(rows["mnist_png"]["test_accuracy"] - rows["mnist_idx"]["test_accuracy"])
    idx, png = (rows[n]["stats"] for n in ("mnist_idx", "mnist_png"))
    same_test = idx["test"] == png["test"]

    def examples(stats: dict) -> dict[str, int]:
        return {
            c: sum(stats[s]["examples_per_class"][c] for s in ("train", "validation"))
            for c in stats["train"]["examples_per_class"]
        }

    same_train = examples(idx) == examples(png)
    small, large = results["ingest_memory"]
    memory = markdown(
        ["folder", "files", "ingest wall s", "ingest peak RSS MiB"],
        [
            [label, f"{run['files']:,}", f"{run['wall_s']:.0f}", f"{run['peak_rss_mib']:.0f}"]
            for label, run in (("a tenth of MNIST", small), ("all of MNIST", large))
        ],
    )
    ratio = large["peak_rss_mib"] / small["peak_rss_mib"]
    return (
        f"{scores}\n\nMNIST through the folder is {gap:.4f} from the IDX route "
        f"(goal: within {GOAL}: {report.met(gap, f'<= {GOAL}')}); its test split's statistics are "
        f"{'the same' if same_test else 'NOT the same'}, and train's and validation's "
        f"examples per class together {'the same' if same_train else 'NOT the same'} (the "
        "split between them differs: an example's key holds its file's path).\n\n"
        f"{memory}\n\n{large['files'] / small['files']:.0f} times the files, "
        f"{ratio:.2f} times the memory. Bench time {results['seconds'] / 60:.0f} min.\n"
    )


SECTIONS = {"own_data": tables}


if __name__ == "__main__":
    main()

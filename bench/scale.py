"""`make bench-scale`: the pipeline at 1x, 8x and 32x MNIST's training split.

Bigger data comes from the pipeline itself: `preprocess.augment_copies` 0, 7 and 31. Each
size runs the four stages as their own commands (`python -m components <stage>`), each
measured alone: wall time, peak RSS, records per second. Preprocess runs twice, on
FnApiRunner and on a Dask scheduler with two workers (processes on 127.0.0.1, a fresh
cluster per size, so each worker's peak RSS is this size's); both must write the same
bytes. Results go to bench/results/scale.json, a plot of time and memory against size to
docs/images/scale.png, and the tables into docs/performance.md.

    DATA_MIRROR=../shared/data/mnist python -m bench.scale
"""

from __future__ import annotations

import argparse
import dataclasses
import filecmp
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

import components
from bench import cluster, plots, report
from bench.measure import ROOT, bench_env, headline_metrics, measure, run_record
from bench.own_data import MNIST_COUNTS
from components.evaluate.stage import Paths as EvaluatePaths
from components.ingest.stage import Paths as IngestPaths
from components.preprocess.stage import Paths as PreprocessPaths
from components.train.stage import Paths as TrainPaths
from pipeline import schema, stats
from pipeline.params import NO_EXCLUDE, load_params
from tools.table import markdown

# At 32x, every stage's peak RSS and preprocess's and train's time per training example
# against 1x.
GOAL = "<= 1.25"
PLOT = report.DOCS / "images" / "scale.png"
SIZES = {1: 0, 8: 7, 32: 31}  # size, as a multiple of MNIST's train split: augment_copies
STAGE_PATHS = {  # in a scratch folder of the bench's
    "ingest": IngestPaths(out="raw", schema="schema.json"),
    "preprocess": PreprocessPaths(raw="raw", schema="schema.json", out="processed"),
    "train": TrainPaths(data="processed", schema="schema.json", model="model.keras", live="live"),
    "evaluate": EvaluatePaths(
        data="processed",
        schema="schema.json",
        model="model.keras",
        out="reports",
        serving="serving",
    ),
}


def _params(work: Path, copies: int, name: str, **preprocess: object) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["preprocess"].update(augment_copies=copies, **preprocess)
    params["preprocess"]["exclude"] = str(ROOT / NO_EXCLUDE)  # `work` has none
    path = work / name
    path.write_text(yaml.safe_dump(params))
    return path


def _stage(stage: str, work: Path, params: Path, env: dict, **args: str) -> dict:
    paths = dataclasses.replace(STAGE_PATHS[stage], **args)
    command = [sys.executable, *components.arguments(stage, paths, str(params))]
    with run_record(env) as (record_env, read_record):
        run = measure(command, work, record_env)
        return {"wall_s": run["wall_s"], "peak_rss_mib": run["peak_rss_mib"], **read_record()}


def _dask_preprocess(work: Path, copies: int, env: dict) -> dict:
    """Preprocess on a fresh two-worker Dask cluster: the launcher's and workers' peak RSS."""
    with cluster.dask(workers=2) as address:
        params = _params(
            work,
            copies,
            "dask.yaml",
            runner="DaskRunner",
            beam_args=[f"--dask_client_address={address}"],
        )
        run = _stage("preprocess", work, params, env, out="processed-dask")
        workers = cluster.dask_worker_peak_rss_mib(address)
    same = _same_files(work / "processed", work / "processed-dask")
    shutil.rmtree(work / "processed-dask")
    return {**run, "workers_peak_rss_mib": workers, "same_bytes_as_fnapi": same}


def _same_files(first: Path, second: Path) -> bool:
    names = sorted(p.name for p in first.iterdir())
    if names != sorted(p.name for p in second.iterdir()):
        return False
    return all(filecmp.cmp(first / n, second / n, shallow=False) for n in names)


def bench_size(size: int, work: Path, env: dict) -> dict:
    copies = SIZES[size]
    params = _params(work, copies, f"params-{size}x.yaml")
    row: dict = {"size": size, "augment_copies": copies}
    row["preprocess"] = _stage("preprocess", work, params, env)
    split_stats = stats.read_stats(work / "processed")
    row["train_records"] = split_stats["train"].records
    row["records"] = sum(s.records for s in split_stats.values())
    row["preprocess_dask"] = _dask_preprocess(work, copies, env)
    row["train"] = _stage("train", work, params, env)
    row["evaluate"] = _stage("evaluate", work, params, env)
    row["test_accuracy"] = headline_metrics(work).test.to_json()  # accuracy and loss
    for output in ("processed", "model.keras", "live", "reports", "serving"):
        path = work / output
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    env = bench_env()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        work = Path(scratch)
        params = _params(work, 0, "params-ingest.yaml")
        results = {"ingest": _stage("ingest", work, params, env), "sizes": []}
        for size in args.sizes:
            results["sizes"].append(bench_size(size, work, env))
            print(f"bench-scale: {size}x done ({time.perf_counter() - started:.0f} s)", flush=True)
    results["seconds"] = time.perf_counter() - started
    plot(results)
    print(report.publish("scale", results))


def _per_example_us(run: dict, train_records: int) -> float:
    return run["wall_s"] / train_records * 1e6


# What the scale goals compare between 1x and 32x: (name, value of a size's row).
_SCALE_MEASURES: list[tuple[str, Callable[[dict], float]]] = [
    ("preprocess peak RSS MiB", lambda r: r["preprocess"]["peak_rss_mib"]),
    (
        "preprocess on Dask: largest worker peak RSS MiB",
        lambda r: max(r["preprocess_dask"]["workers_peak_rss_mib"].values()),
    ),
    ("train peak RSS MiB", lambda r: r["train"]["peak_rss_mib"]),
    ("evaluate peak RSS MiB", lambda r: r["evaluate"]["peak_rss_mib"]),
    (
        "preprocess us per training example",
        lambda r: _per_example_us(r["preprocess"], r["train_records"]),
    ),
    (
        "preprocess on Dask: us per training example",
        lambda r: _per_example_us(r["preprocess_dask"], r["train_records"]),
    ),
    ("train us per training example", lambda r: _per_example_us(r["train"], r["train_records"])),
]


def stages_table(results: dict) -> str:
    """The scaling curve: each stage at each size."""
    sizes = results["sizes"]
    rows = []
    for r in sizes:
        for stage, key in (
            ("preprocess", "preprocess"),
            ("preprocess (Dask, 2 workers)", "preprocess_dask"),
            ("train", "train"),
            ("evaluate", "evaluate"),
        ):
            run = r[key]
            rss = run["peak_rss_mib"]
            memory = f"{rss:.0f}"
            if key == "preprocess_dask":
                memory += f" (workers {max(run['workers_peak_rss_mib'].values()):.0f})"
            processed = r["records"] if "preprocess" in key else r["train_records"]
            processed *= 5 if key == "train" else 1
            if key == "evaluate":
                processed = r["records"] - r["train_records"]
            rows.append(
                [
                    f"{r['size']}x",
                    f"{r['train_records']:,}",
                    stage,
                    f"{run['wall_s']:.1f}",
                    memory,
                    f"{processed / run['wall_s']:,.0f}",
                ]
            )
    ingest = results["ingest"]
    rows.insert(
        0,
        ["all", "-", "ingest", f"{ingest['wall_s']:.1f}", f"{ingest['peak_rss_mib']:.0f}", "-"],
    )
    header = ["size", "train records", "stage", "wall s", "peak RSS MiB", "records/s"]
    return f"{markdown(header, rows)}\n"


def goals_table(results: dict) -> str:
    """The scaling goals: the largest size against the smallest."""
    sizes = results["sizes"]
    first, last = sizes[0], sizes[-1]
    goals = []
    for name, value in _SCALE_MEASURES:
        ratio = value(last) / value(first)
        goals.append(
            [
                name,
                f"{value(first):.1f}",
                f"{value(last):.1f}",
                f"{ratio:.2f}",
                GOAL,
                report.met(ratio, GOAL),
            ]
        )
    header = ["measure", f"{first['size']}x", f"{last['size']}x", "ratio", "target", "met"]
    accuracy = ", ".join(f"{r['size']}x {r['test_accuracy']['accuracy']:.4f}" for r in sizes)
    same = all(r["preprocess_dask"]["same_bytes_as_fnapi"] for r in sizes)
    notes = (
        f"Test accuracy of the default MLP, 5 epochs: {accuracy}. Dask's output "
        f"{'was' if same else 'was NOT'} byte-identical to FnApiRunner's at every size. "
        f"Bench time {results['seconds'] / 60:.0f} min."
    )
    return f"{markdown(header, goals)}\n\n{notes}\n"


def plot(results: dict) -> None:
    """Wall time and peak RSS of each stage against the size of the data, as a PNG."""
    sizes = [r["size"] for r in results["sizes"]]
    figure, (time_axis, memory_axis) = plots.pyplot().subplots(1, 2, figsize=(10, 4))
    for label, key in (
        ("preprocess", "preprocess"),
        ("preprocess on Dask", "preprocess_dask"),
        ("train", "train"),
        ("evaluate", "evaluate"),
    ):
        runs = [r[key] for r in results["sizes"]]
        time_axis.plot(sizes, [run["wall_s"] for run in runs], marker="o", label=label)
        memory = [run["peak_rss_mib"] for run in runs]
        if key == "preprocess_dask":
            memory = [max(run["workers_peak_rss_mib"].values()) for run in runs]
            label += " (largest worker)"
        memory_axis.plot(sizes, memory, marker="o", label=label)
    for axis, title in ((time_axis, "wall time, s"), (memory_axis, "peak RSS, MiB")):
        axis.set_xscale("log", base=2)
        axis.set_xticks(sizes, [f"{s}x" for s in sizes])
        axis.set_xlabel("training data, multiples of MNIST's train split")
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
    time_axis.set_yscale("log")
    memory_axis.set_ylim(bottom=0)
    memory_axis.legend(fontsize=8)
    plots.save(figure, PLOT)


def cache_limit(results: dict) -> str:
    """How large a training split train holds in memory under params.yaml's
    `train.cache_mib`, as a multiple of MNIST's (scaling.md): the splits at 1x, in the bytes
    preprocess writes a pixel as."""
    first = results["sizes"][0]
    cache_mib = load_params(ROOT / "params.yaml").train.cache_mib
    pixel_bytes = np.dtype(schema.PROCESSED_DTYPE).itemsize
    held = cache_mib * 2**20 // (math.prod(schema.DIGIT_SHAPE) * pixel_bytes)
    validation = first["records"] - first["train_records"] - MNIST_COUNTS[schema.TEST]
    times = (held - validation) / first["train_records"]
    gib = cache_mib / 1024
    return f"{gib:g} GiB by default: MNIST and up to about {times:.0f}x its training split"


SECTIONS = {"scale": stages_table, "scale_goals": goals_table, "cache_limit": cache_limit}


if __name__ == "__main__":
    if not os.environ.get("DATA_MIRROR"):
        sys.exit("bench: set DATA_MIRROR to the MNIST mirror folder")
    main()

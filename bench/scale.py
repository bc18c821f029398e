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
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

import components
from bench import cluster, report
from bench.measure import ROOT, bench_env, headline_metrics, measure, run_record
from components.evaluate.stage import Paths as EvaluatePaths
from components.ingest.stage import Paths as IngestPaths
from components.preprocess.stage import Paths as PreprocessPaths
from components.train.stage import Paths as TrainPaths
from pipeline import stats

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
    report.write_results("scale", results)
    report.plot_scale(results)
    report.update_docs()
    print(report.scale_tables(results))


if __name__ == "__main__":
    if not os.environ.get("DATA_MIRROR"):
        sys.exit("bench: set DATA_MIRROR to the MNIST mirror folder")
    main()

"""`make bench`: the pipeline against the reference notebook, in one run on this machine.

Each measure is repeated `--repeats` times (medians reported, every run kept):

- notebook: bench/notebook.py, cold (tfds prepare from the mirror included) and after prepare;
- pipeline cold: `dvc repro` in a fresh clone with an empty cache, mirror to metrics;
- pipeline warm: `dvc exp run -S train.seed=N`, data stages cached (train onwards re-run);
- no-op `dvc repro`;
- each stage alone (`dvc repro --force --single-item`): wall time, peak RSS, throughput;
- the floor: the same model fed from in-memory numpy arrays;
- train with its splits streamed (`train.cache_mib: 0`) against held in memory;
- the portable runner (job service and worker pool as processes) on a quarter and all of
  MNIST: the launching process's peak RSS, which should not grow with the data.

Writes bench/results/bench.json; the tables in docs/performance.md are made from it.

    DATA_MIRROR=../shared/data/mnist python -m bench.run [--repeats 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

import components
from bench import cluster, report
from bench.measure import ROOT, measure, run_record, scratch_env
from components import STAGES
from components.preprocess.stage import Paths as PreprocessPaths
from components.train.stage import Paths as TrainPaths
from pipeline import artifacts, schema, tfrecord
from pipeline.params import NO_EXCLUDE
from tools.table import markdown

# The pipeline's goals against the notebook, by the measure of the table they judge.
GOALS = {
    "cold pipeline / cold notebook": "<= 0.8",
    "warm experiment / notebook after prepare": "<= 0.5",
    "train steps/s, splits in memory / numpy floor": ">= 0.95",
    "Beam preprocess records/s": ">= 25000",
    "no-op dvc repro s": "<= 1",
    "portable runner: launcher peak RSS, all / a quarter of MNIST": "<= 1.1",
}
EXAMPLES = 70_000  # MNIST train + test: what ingest and preprocess process


def summary(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "runs": values}


def fresh_clone(env: dict) -> Path:
    path = Path(tempfile.mkdtemp(prefix="bench-clone-"))
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True, env=env)
    return path


def bench_notebook(env: dict, repeats: int) -> dict:
    command = [sys.executable, "bench/notebook.py"]
    runs = [
        json.loads(measure(command, ROOT, env)["output"].strip().splitlines()[-1])
        for _ in range(repeats)
    ]
    return {key: summary([run[key] for run in runs]) for key in runs[0]}


def bench_pipeline(env: dict, repeats: int) -> tuple[dict, Path]:
    cold, warm, noop, clone = [], [], [], None
    for n in range(repeats):
        clone = fresh_clone(env)
        cold.append(measure(["dvc", "repro"], clone, env)["wall_s"])
        noop += [measure(["dvc", "repro"], clone, env)["wall_s"] for _ in range(3)]
        command = ["dvc", "exp", "run", "-S", f"train.seed={100 + n}"]
        warm.append(measure(command, clone, env)["wall_s"])
    runs = {"cold_s": cold, "warm_s": warm, "noop_s": noop}
    return {name: summary(values) for name, values in runs.items()}, clone


def _stage(clone: Path, env: dict, stage: str) -> dict:
    with run_record(env) as (record_env, last_record):
        command = ["dvc", "repro", "--force", "--single-item", stage]
        run = measure(command, clone, record_env)
        one = {"wall_s": run["wall_s"], "peak_rss_mib": run["peak_rss_mib"]}
        # The stage's own measurements, from pipeline.run_record's record, not its logs.
        one |= {k: v for k, v in last_record().items() if k.endswith("_per_s")}
    if stage in ("ingest", "preprocess"):
        one["examples_per_s"] = EXAMPLES / one["wall_s"]
    return one


def bench_stages(clone: Path, env: dict, repeats: int) -> dict:
    """Each stage alone, `repeats` times: medians, and every run in `runs`."""
    runs = {stage: [_stage(clone, env, stage) for _ in range(repeats)] for stage in STAGES}
    return {
        stage: {
            **{key: statistics.median(run[key] for run in stage_runs) for key in stage_runs[0]},
            "runs": stage_runs,
        }
        for stage, stage_runs in runs.items()
    }


def bench_floor(clone: Path, env: dict, repeats: int) -> dict:
    processed = artifacts.paths["processed"]
    command = [
        sys.executable,
        "-m",
        "bench.floor",
        processed,
        artifacts.paths["schema"],
        "params.yaml",
    ]
    rates = [
        json.loads(measure(command, clone, env)["output"].strip().splitlines()[-1])["steps_per_s"]
        for _ in range(repeats)
    ]
    return {"steps_per_s": statistics.median(rates), "runs": rates}


def bench_streamed(clone: Path, env: dict, repeats: int) -> dict:
    """The train stage with both splits streamed from their shards, not held in memory."""
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["train"]["cache_mib"] = 0
    path = clone / "params-streamed.yaml"
    path.write_text(yaml.safe_dump(params))
    paths = TrainPaths(
        data=artifacts.paths["processed"],
        schema=artifacts.paths["schema"],
        model="streamed.keras",
        live="live2",
    )
    command = [sys.executable, *components.arguments("train", paths, str(path))]
    runs = []
    for _ in range(repeats):
        with run_record(env) as (record_env, last_record):
            run = measure(command, clone, record_env)
            runs.append({"peak_rss_mib": run["peak_rss_mib"], **last_record()})
    return {
        key: statistics.median(run[key] for run in runs) for key in ("steps_per_s", "peak_rss_mib")
    }


def _share_of_mnist(clone: Path, share: float) -> tuple[Path, int]:
    """A scratch project folder: params (drift check off) and raw data, `share` of train."""
    params = yaml.safe_load((clone / "params.yaml").read_text())
    # A 1,500-example validation split drifts from train by chance: switch the check off.
    params["validate"] = {"max_class_drift": 1.0, "max_pixel_mean_drift": 1.0}
    params["preprocess"]["exclude"] = str(clone / NO_EXCLUDE)  # the folder has none
    work = Path(tempfile.mkdtemp(prefix="bench-share-"))
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    (work / "raw").mkdir()
    n = int(60_000 * share)
    raw = artifacts.under(clone)["raw"]
    source = raw / schema.split_file(schema.TRAIN)
    records = itertools.islice(tfrecord.read_tfrecords(source), n)
    tfrecord.write_tfrecords(work / "raw" / schema.split_file(schema.TRAIN), records)
    test = schema.split_file(schema.TEST)
    (work / "raw" / test).write_bytes((raw / test).read_bytes())
    shutil.copy(artifacts.under(clone)["schema"], work / "schema.json")
    return work, n


def bench_portable(clone: Path, env: dict, repeats: int) -> list[dict]:
    """Preprocess on the portable runner: the launching process's peak RSS by data size."""
    rows = []
    with cluster.beam_portable() as beam_args:
        for share in (0.25, 1.0):
            work, n = _share_of_mnist(clone, share)
            params = yaml.safe_load((work / "params.yaml").read_text())
            params["preprocess"].update(runner="PortableRunner", beam_args=beam_args)
            (work / "params.yaml").write_text(yaml.safe_dump(params))
            paths = PreprocessPaths(raw="raw", schema="schema.json", out="p")
            command = [sys.executable, *components.arguments("preprocess", paths)]
            runs = [measure(command, work, env) for _ in range(repeats)]
            rows.append(
                {
                    "train_examples": n,
                    "launcher_peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs),
                    "wall_s": statistics.median(r["wall_s"] for r in runs),
                }
            )
    return rows


def run_all(env: dict, repeats: int) -> dict:
    started = time.perf_counter()
    results = {"repeats": repeats, "notebook": bench_notebook(env, repeats)}
    print(f"bench: notebook done ({time.perf_counter() - started:.0f} s)", flush=True)
    results["pipeline"], clone = bench_pipeline(env, repeats)
    print(f"bench: pipeline done ({time.perf_counter() - started:.0f} s)", flush=True)
    results["stages"] = bench_stages(clone, env, repeats)
    results["floor"] = bench_floor(clone, env, repeats)
    results["streamed"] = bench_streamed(clone, env, repeats)
    results["portable"] = bench_portable(clone, env, repeats)
    results["seconds"] = time.perf_counter() - started
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with scratch_env("bench-") as env:
        results = run_all(env, args.repeats)
    print(report.publish("bench", results))


_RATES = {  # a stage's rate in its run record: how the table words it
    "beam_records_per_s": "records/s in Beam",
    "steps_per_s": "steps/s",
    "examples_per_s": "examples/s",
}


def tables(results: dict) -> str:
    """The pipeline against the notebook, each stage alone, the feeds and the launcher."""
    notebook, pipeline, stages = results["notebook"], results["pipeline"], results["stages"]
    warm_notebook = notebook["after_prepare_s"]["median"] + notebook["import_s"]["median"]
    train_rate = stages["train"]["steps_per_s"]
    portable = results["portable"]
    measures = {
        "cold pipeline / cold notebook": pipeline["cold_s"]["median"]
        / notebook["total_s"]["median"],
        "warm experiment / notebook after prepare": pipeline["warm_s"]["median"] / warm_notebook,
        "train steps/s, splits in memory / numpy floor": train_rate
        / results["floor"]["steps_per_s"],
        "train steps/s, splits streamed / in memory": results["streamed"]["steps_per_s"]
        / train_rate,
        "train steps/s / notebook steps/s": train_rate / notebook["steps_per_s"]["median"],
        "Beam preprocess records/s": stages["preprocess"]["beam_records_per_s"],
        "no-op dvc repro s": pipeline["noop_s"]["median"],
        "portable runner: launcher peak RSS, all / a quarter of MNIST": portable[-1][
            "launcher_peak_rss_mib"
        ]
        / portable[0]["launcher_peak_rss_mib"],
    }
    goals = markdown(
        ["measure", "value", "target", "met"],
        [
            [m, f"{v:.3g}", GOALS.get(m, "-"), report.met(v, GOALS[m]) if m in GOALS else "-"]
            for m, v in measures.items()
        ],
    )
    rows = []
    for name, stage in stages.items():
        rate = next((f"{v:,.0f} {_RATES[k]}" for k, v in stage.items() if k in _RATES), "-")
        rows.append([name, f"{stage['wall_s']:.1f}", f"{stage['peak_rss_mib']:.0f}", rate])
    per_stage = markdown(["stage", "wall s", "peak RSS MiB", "throughput"], rows)
    notes = (
        f"Notebook: cold {notebook['total_s']['median']:.1f} s (prepare "
        f"{notebook['prepare_s']['median']:.1f} s), {notebook['steps_per_s']['median']:.0f} "
        f"steps/s, test accuracy {notebook['test_accuracy']['median']:.4f}. Pipeline: cold "
        f"{pipeline['cold_s']['median']:.1f} s, warm {pipeline['warm_s']['median']:.1f} s, "
        f"no-op {pipeline['noop_s']['median']:.2f} s. Train: {train_rate:.0f} steps/s in "
        f"memory, {results['streamed']['steps_per_s']:.0f} streamed (peak RSS "
        f"{results['streamed']['peak_rss_mib']:.0f} MiB against "
        f"{stages['train']['peak_rss_mib']:.0f}); floor {results['floor']['steps_per_s']:.0f}. "
        f"Medians of {results['repeats']} runs; bench time {results['seconds'] / 60:.0f} min."
    )
    return f"{goals}\n\n{per_stage}\n\n{notes}\n"


SECTIONS = {"bench": tables}


if __name__ == "__main__":
    main()

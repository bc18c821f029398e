"""`make bench`: the pipeline against the reference notebook, in one run on this machine.

Each measure but the scaling curve is repeated `--repeats` times (medians reported, every
run kept in results.json):

- notebook: bench/notebook.py, cold (tfds prepare from the mirror included) and after prepare;
- pipeline cold: `dvc repro` in a fresh clone with an empty cache, mirror to metrics;
- pipeline warm: `dvc exp run -S train.seed=N`, data stages cached (train onwards re-run);
- no-op `dvc repro`;
- each stage alone (`dvc repro --force --single-item`): wall time, peak RSS, throughput;
- the floor: the same model fed from in-memory numpy arrays;
- scaling: preprocess and train on 1/4, 1/2 and all of MNIST's train split;
- portable: preprocess on the portable runner (job service and worker pool as processes)
  on 1/4 and all of MNIST: the launching process's peak RSS, which should stay flat.

Writes bench/results/results.json and results.md.

    DATA_MIRROR=../shared/data/mnist python -m bench.run [--repeats 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # inherited by every measured command
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pipeline import cli, io, schema

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "preprocess", "train", "evaluate")
EXAMPLES = 70_000  # MNIST train + test: what ingest and preprocess process


def measure(command: list[str], cwd: Path, env: dict | None = None) -> dict:
    """Runs a command; returns wall seconds, peak RSS (MiB, largest process) and its output."""
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read()
    if process.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{output[-3000:]}")
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "output": output}


def summary(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "runs": values}


def fresh_clone(env: dict) -> Path:
    path = Path(tempfile.mkdtemp(prefix="bench-clone-"))
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True, env=env)
    return path


def bench_notebook(env: dict, repeats: int) -> dict:
    runs = [
        json.loads(
            measure([sys.executable, "bench/notebook.py"], ROOT, env)["output"]
            .strip()
            .splitlines()[-1]
        )
        for _ in range(repeats)
    ]
    return {key: summary([run[key] for run in runs]) for key in runs[0]}


def bench_pipeline(env: dict, repeats: int) -> tuple[dict, Path]:
    cold, warm, noop, noop_after_exp, clone = [], [], [], [], None
    for n in range(repeats):
        clone = fresh_clone(env)
        cold.append(measure(["dvc", "repro"], clone, env)["wall_s"])
        noop += [measure(["dvc", "repro"], clone, env)["wall_s"] for _ in range(3)]
        warm.append(
            measure(["dvc", "exp", "run", "-S", f"train.seed={100 + n}"], clone, env)["wall_s"]
        )
        # Also right after an experiment, a common moment to run it.
        noop_after_exp.append(measure(["dvc", "repro"], clone, env)["wall_s"])
    runs = {"cold_s": cold, "warm_s": warm, "noop_s": noop, "noop_after_exp_s": noop_after_exp}
    return {name: summary(values) for name, values in runs.items()}, clone


def bench_stages(clone: Path, env: dict, repeats: int) -> dict:
    """Each stage alone, `repeats` times: medians, and every run in `runs`."""
    runs = {stage: [] for stage in STAGES}
    for _ in range(repeats):
        for stage in STAGES:
            record = Path(tempfile.mkdtemp(prefix="bench-record-")) / "record.jsonl"
            command = ["dvc", "repro", "--force", "--single-item", stage]
            run = measure(command, clone, {**env, cli.RECORD_ENV: str(record)})
            one = {"wall_s": run["wall_s"], "peak_rss_mib": run["peak_rss_mib"]}
            if stage in ("ingest", "preprocess"):
                one["examples_per_s"] = EXAMPLES / run["wall_s"]
            # The stage's own measurements, from pipeline.cli's run record, not its logs.
            stage_record = json.loads(record.read_text())
            one |= {k: v for k, v in stage_record.items() if k.endswith("_per_s")}
            runs[stage].append(one)
    return {
        stage: {
            **{key: statistics.median(run[key] for run in stage_runs) for key in stage_runs[0]},
            "runs": stage_runs,
        }
        for stage, stage_runs in runs.items()
    }


def bench_floor(clone: Path, env: dict, repeats: int) -> dict:
    command = [sys.executable, "-m", "bench.floor", "data/processed", "params.yaml"]
    rates = [
        json.loads(measure(command, clone, env)["output"].strip().splitlines()[-1])["steps_per_s"]
        for _ in range(repeats)
    ]
    return {"steps_per_s": statistics.median(rates), "runs": rates}


def _share_of_mnist(clone: Path, share: float) -> tuple[Path, int]:
    """A scratch project folder: params (drift check off) and raw data, `share` of train."""
    params = yaml.safe_load((clone / "params.yaml").read_text())
    # A 1,500-example validation split drifts from train by chance: switch the check off.
    params["validate"] = {"max_class_drift": 1.0, "max_pixel_mean_drift": 1.0}
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    (work / "raw").mkdir()
    n = int(60_000 * share)
    source = clone / "data/raw" / schema.split_file(schema.TRAIN)
    records = itertools.islice(io.read_tfrecords(source), n)
    io.write_tfrecords(work / "raw" / schema.split_file(schema.TRAIN), records)
    test = schema.split_file(schema.TEST)
    (work / "raw" / test).write_bytes((clone / "data/raw" / test).read_bytes())
    return work, n


def bench_scaling(clone: Path, env: dict) -> list[dict]:
    """Preprocess and train (wall) on growing shares of the train split."""
    rows = []
    for share in (0.25, 0.5, 1.0):
        work, n = _share_of_mnist(clone, share)
        module = [sys.executable, "-m"]
        pre = measure(
            [*module, "components", "preprocess", "--raw", "raw", "--out", "proc"], work, env
        )
        fit = measure(
            [
                *module,
                "components",
                "train",
                "--data",
                "proc",
                "--model",
                "m.keras",
                "--live",
                "live",
            ],
            work,
            env,
        )
        rows.append({"train_examples": n, "preprocess_s": pre["wall_s"], "train_s": fit["wall_s"]})
    return rows


def bench_portable(clone: Path, env: dict, repeats: int) -> list[dict]:
    """Preprocess on the portable runner: the launching process's peak RSS by data size.

    The data checks and statistics run on the workers, so the launcher's memory should
    not grow with the data.
    """
    from tests.beam_services import portable_runner

    rows = []
    with portable_runner() as beam_args:
        for share in (0.25, 1.0):
            work, n = _share_of_mnist(clone, share)
            params = yaml.safe_load((work / "params.yaml").read_text())
            params["preprocess"].update(runner="PortableRunner", beam_args=beam_args)
            (work / "params.yaml").write_text(yaml.safe_dump(params))
            command = [
                sys.executable,
                "-m",
                "components",
                "preprocess",
                "--raw",
                "raw",
                "--out",
                "p",
            ]
            runs = [measure(command, work, env) for _ in range(repeats)]
            rows.append(
                {
                    "train_examples": n,
                    "launcher_peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs),
                    "wall_s": statistics.median(r["wall_s"] for r in runs),
                }
            )
    return rows


def ratios(results: dict) -> list[dict]:
    notebook, pipeline, stages = results["notebook"], results["pipeline"], results["stages"]
    cold_notebook = notebook["total_s"]["median"]
    warm_notebook = notebook["after_prepare_s"]["median"] + notebook["import_s"]["median"]
    rows = [
        ("cold pipeline / cold notebook", pipeline["cold_s"]["median"] / cold_notebook, "<= 0.8"),
        (
            "warm experiment / notebook after prepare",
            pipeline["warm_s"]["median"] / warm_notebook,
            "<= 0.5",
        ),
        (
            "train steps/s / numpy floor",
            stages["train"]["steps_per_s"] / results["floor"]["steps_per_s"],
            ">= 0.95",
        ),
        (
            "train steps/s / notebook steps/s",
            stages["train"]["steps_per_s"] / notebook["steps_per_s"]["median"],
            "(faster than notebook)",
        ),
        ("Beam preprocess examples/s", stages["preprocess"]["beam_examples_per_s"], ">= 25000"),
        ("no-op dvc repro s", pipeline["noop_s"]["median"], "<= 1"),
        (
            "portable runner: launcher peak RSS, all / a quarter of MNIST",
            results["portable"][-1]["launcher_peak_rss_mib"]
            / results["portable"][0]["launcher_peak_rss_mib"],
            "<= 1.1",
        ),
        (
            "largest stage peak RSS MiB (any run)",
            max(run["peak_rss_mib"] for s in stages.values() for run in s["runs"]),
            "<= 2048",
        ),
    ]
    return [
        {"measure": m, "value": round(v, 3), "target": t, "met": _met(v, t)} for m, v, t in rows
    ]


def _met(value: float, target: str) -> str:
    match = re.match(r"(<=|>=) ([\d.]+)", target)
    if not match:
        return "-"
    bound = float(match.group(2))
    return "yes" if (value <= bound if match.group(1) == "<=" else value >= bound) else "NO"


def markdown(results: dict) -> str:
    lines = ["| measure | value | target | met |", "|---|---|---|---|"]
    lines += [
        f"| {r['measure']} | {r['value']} | {r['target']} | {r['met']} |" for r in results["ratios"]
    ]
    lines += ["", "| stage | wall s | peak RSS MiB | throughput |", "|---|---|---|---|"]
    for name, stage in results["stages"].items():
        rate = next(
            (
                f"{v:,.0f} {k.replace('_per_s', '')}/s"
                for k, v in stage.items()
                if k.endswith("_per_s")
            ),
            "-",
        )
        lines.append(f"| {name} | {stage['wall_s']:.1f} | {stage['peak_rss_mib']:.0f} | {rate} |")
    lines += ["", "| train examples | preprocess s | train s |", "|---|---|---|"]
    lines += [
        f"| {r['train_examples']:,} | {r['preprocess_s']:.1f} | {r['train_s']:.1f} |"
        for r in results["scaling"]
    ]
    lines += [
        "",
        "| portable runner: train examples | launcher peak RSS MiB | wall s |",
        "|---|---|---|",
    ]
    lines += [
        f"| {r['train_examples']:,} | {r['launcher_peak_rss_mib']:.0f} | {r['wall_s']:.1f} |"
        for r in results["portable"]
    ]
    nb, pl = results["notebook"], results["pipeline"]
    lines += [
        "",
        f"Notebook: cold {nb['total_s']['median']:.1f} s (prepare "
        f"{nb['prepare_s']['median']:.1f} s), {nb['steps_per_s']['median']:.0f} steps/s, "
        f"test accuracy {nb['test_accuracy']['median']:.4f}. Pipeline: cold "
        f"{pl['cold_s']['median']:.1f} s, warm {pl['warm_s']['median']:.1f} s, no-op "
        f"{pl['noop_s']['median']:.2f} s ({pl['noop_after_exp_s']['median']:.2f} s right after "
        f"an experiment). Floor: {results['floor']['steps_per_s']:.0f} "
        "steps/s. Medians of the repeats; all runs in results.json.",
    ]
    return "\n".join(lines) + "\n"


def run_all(env: dict, repeats: int) -> dict:
    started = time.perf_counter()
    results = {"notebook": bench_notebook(env, repeats)}
    print(f"bench: notebook done ({time.perf_counter() - started:.0f} s)", flush=True)
    results["pipeline"], clone = bench_pipeline(env, repeats)
    print(f"bench: pipeline done ({time.perf_counter() - started:.0f} s)", flush=True)
    results["stages"] = bench_stages(clone, env, repeats)
    results["floor"] = bench_floor(clone, env, repeats)
    results["scaling"] = bench_scaling(clone, env)
    results["portable"] = bench_portable(clone, env, repeats)
    results["seconds"] = time.perf_counter() - started
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if not os.environ.get("DATA_MIRROR"):
        sys.exit("bench: set DATA_MIRROR to the MNIST mirror folder")
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "DATA_MIRROR": str(Path(os.environ["DATA_MIRROR"]).resolve()),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    # Clones, data folders and the notebook's tfds data all go under one scratch folder,
    # removed at the end: each repeat leaves ~1 GB otherwise.
    scratch = tempfile.mkdtemp(prefix="bench-")
    tempfile.tempdir, env["TMPDIR"] = scratch, scratch
    try:
        results = run_all(env, args.repeats)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results["ratios"] = ratios(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(results))
    print(markdown(results))
    print(f"bench: done in {results['seconds']:.0f} s; {args.out}/results.md")


if __name__ == "__main__":
    main()

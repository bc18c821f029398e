"""`make bench-serve`: mnist-serve under load from Locust, against the floor of its inference.

A real mnist-serve (a process of its own, on 127.0.0.1) serves a copy of a version: the
project's served one (after `make repro`; or `--model`), else one bench.small_model trains
(the default MLP, in seconds). Locust, headless, runs 8 and then 32 clients for
SERVE_BENCH_SECONDS each (default 60; a few for a smoke run), each client sending its next
request when the last is answered (a closed loop), of a single image and of a batch of 100
(MNIST test digits, TF Serving's row format). For each run: requests/s, p50 and p99
latency (Locust's, whole milliseconds under 100 ms), failed requests, and the CPU Locust
took from the machine it shares with the server. Three versions (copies of the served
one) are pushed during the runs as evaluate pushes, the default version changing each
time: no request may fail. The server's RSS is sampled from /proc every 0.5 s: its peak
(VmHWM), and its last sample against its first after a warm-up of both kinds at 32 clients
(flat, or growing; the three versions pushed are loaded in it too).

The floor, measured in the same run before the load: the same request bodies decoded
(json.loads, to a uint8 array) and run on LiteRT in this one process, one after another.
What lies between it and the server is HTTP, JSON answers and the threads.

    DATA_MIRROR=../shared/data/mnist python -m bench.serve [--model models/serving]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from bench import report, serve_load
from bench.measure import ROOT, bench_env
from bench.results import relative
from components.evaluate import lite, serving
from components.ingest.mirror import read_mirror
from pipeline import artifacts
from pipeline.schema import Schema
from tools.table import markdown

SECONDS_ENV = "SERVE_BENCH_SECONDS"
USERS = (8, 32)
KINDS = {"single": 1, "batch": 100}  # images a request
PUSHES = 3
PATH = "/v1/models/mnist:predict"
BATCH_GOAL = ">= 0.7"  # batch-of-100 images/s, server / floor
P99_GOAL = "<= 20"  # single-image p99 ms, 8 clients
FAILED_GOAL = "<= 0"  # failed requests over the whole run, three pushes in it
RSS_GOAL = "<= 1.1"  # the server's last RSS sample / its first after warm-up


def _version(given: str | None, scratch: Path) -> tuple[Path, str]:
    """The version to serve and how the results name it."""
    base = Path(given) if given else ROOT / artifacts.paths["serving"]
    found = base if (base / serving.SAVED_MODEL).is_file() else serving.serving_version(base)
    if found is not None:
        return found, relative(found)
    if given:
        sys.exit(f"bench: --model {given}: no version there")
    made = scratch / "small" / "1"
    said = scratch / "small-model.log"
    with open(said, "w") as log:
        command = [sys.executable, "-m", "bench.small_model", str(made)]
        if subprocess.run(command, cwd=ROOT, env=bench_env(), stdout=log, stderr=log).returncode:
            sys.exit(f"bench: bench.small_model failed:\n{said.read_text()[-3000:]}")
    return made, "bench.small_model (no version in models/serving): the default MLP, 1 epoch"


def _bodies(scratch: Path) -> dict[str, Path]:
    """Each kind's request body, a file of TF Serving's row format."""
    digits = read_mirror(os.environ["DATA_MIRROR"])["test_images"]
    bodies = {}
    for kind, count in KINDS.items():
        bodies[kind] = scratch / f"{kind}.json"
        bodies[kind].write_text(json.dumps({"instances": digits[:count].tolist()}))
    return bodies


def _floor(model: lite.LiteModel, data: Schema, body: bytes, seconds: float) -> dict:
    """Requests answered one after another in this process: JSON decoded, LiteRT run."""
    times = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        begun = time.perf_counter()
        images = np.array(json.loads(body)["instances"], np.uint8)
        model(images.reshape(-1, *data.image_shape))
        times.append(time.perf_counter() - begun)
    return {
        "requests_per_s": len(times) / (time.perf_counter() - started),
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": float(np.percentile(times, 99) * 1000),
    }


def _load(url: str, pid: int, bodies: dict[str, Path], seconds: float, scratch: Path) -> list:
    runs = []
    for users in USERS:
        for kind, images in KINDS.items():
            cpu = serve_load.cpu_seconds(pid)
            prefix = scratch / f"locust-{users}-{kind}"
            run = serve_load.locust(url, bodies[kind], PATH, users, seconds, prefix)
            run["server_cpu_s"] = serve_load.cpu_seconds(pid) - cpu
            run["images_per_s"] = run["requests_per_s"] * images
            runs.append({"users": users, "kind": kind, **run})
            print(
                f"{users} clients, {kind}: {run['requests_per_s']:.0f} requests/s, p99 "
                f"{run['p99_ms']:g} ms, {run['failures']} failed",
                flush=True,
            )
    return runs


def _served(url: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/v1/models/mnist", timeout=10) as answer:
        statuses = json.loads(answer.read())["model_version_status"]
    return [f"{s['version']} {s['state']}" for s in statuses]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__)
    parser.add_argument("--model", help="a serving folder or version (default: the served one)")
    args = parser.parse_args(argv)
    if not os.environ.get("DATA_MIRROR"):
        sys.exit("bench: set DATA_MIRROR to the MNIST mirror folder")
    seconds = float(os.environ.get(SECONDS_ENV) or 60)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        scratch = Path(folder)
        version, model_name = _version(args.model, scratch)
        base = scratch / "serving"
        shutil.copytree(version, base / "1")
        data = serving.read_version_schema(base / "1")
        bodies = _bodies(scratch)
        model = lite.LiteModel(base / "1" / serving.TFLITE_MODEL)
        floor_s = max(2.0, seconds / 4)
        floor = {k: _floor(model, data, bodies[k].read_bytes(), floor_s) for k in KINDS}
        with serve_load.server(base, scratch / "serve.log") as (pid, url):
            sampler = serve_load.MemorySampler(pid)
            sampler.start()
            for kind in KINDS:  # the heaviest load first: RSS then grows only if it leaks
                warm_up = scratch / f"warm-up-{kind}"
                serve_load.locust(url, bodies[kind], PATH, USERS[-1], 5, warm_up)
            first = sampler.sample()
            total = seconds * len(USERS) * len(KINDS)
            at = [total * (n + 0.5) / PUSHES for n in range(PUSHES)]
            pusher = serve_load.Pusher(base / "1", base, url, at, sampler)
            pusher.start()
            runs = _load(url, pid, bodies, seconds, scratch)
            pusher.join(timeout=60)
            sampler.stop()
            served = _served(url)
    rss = [rss for rss, _ in sampler.samples]
    results = {
        "model": model_name,
        "seconds_per_run": seconds,
        "cpus": os.cpu_count(),
        "floor_seconds": floor_s,
        "floor": floor,
        "runs": runs,
        "pushes": pusher.pushes,
        "served_at_end": served,
        "rss_mib": {
            "first": first[0],
            "last": rss[-1],
            "min": min(rss),
            "max": max(rss),
            "peak_hwm": max(hwm for _, hwm in sampler.samples),
            "samples": len(rss),
        },
        "seconds": time.perf_counter() - started,
    }
    print(report.publish("serve", results))


def _share(cpu_s: float, run: dict, cpus: int) -> str:
    """CPU seconds over a run as a share of the whole machine's (all its cores)."""
    return f"{cpu_s / run['wall_s'] / cpus:.0%}"


def goals(results: dict) -> list[tuple[str, float, str]]:
    """Each goal: what it measures, the measured value, its bound."""
    runs = {(run["users"], run["kind"]): run for run in results["runs"]}
    floor = results["floor"]["batch"]["requests_per_s"]
    judged = [
        (f"batch of 100, {users} clients: throughput / floor", runs[users, "batch"], floor)
        for users in USERS
    ]
    rss = results["rss_mib"]
    return [
        *((name, run["requests_per_s"] / base, BATCH_GOAL) for name, run, base in judged),
        (f"single image, {USERS[0]} clients: p99 ms", runs[USERS[0], "single"]["p99_ms"], P99_GOAL),
        (
            f"failed requests, {len(results['pushes'])} versions pushed during the runs",
            sum(run["failures"] for run in results["runs"]),
            FAILED_GOAL,
        ),
        ("server RSS: last sample / first after warm-up", rss["last"] / rss["first"], RSS_GOAL),
    ]


def tables(results: dict) -> str:
    """The runs against the floor, then the goals, then what else the run saw."""
    cpus, floor = results["cpus"], results["floor"]
    rows = [
        [
            str(run["users"]),
            f"{KINDS[run['kind']]} image{'s' if KINDS[run['kind']] > 1 else ''}",
            f"{run['requests_per_s']:,.0f}",
            f"{run['images_per_s']:,.0f}",
            f"{run['requests_per_s'] / floor[run['kind']]['requests_per_s']:.2f}",
            f"{run['p50_ms']:g}",
            f"{run['p99_ms']:g}",
            f"{run['failures']} of {run['requests']:,}",
            _share(run["locust_cpu_s"], run, cpus),
            _share(run["server_cpu_s"], run, cpus),
        ]
        for run in results["runs"]
    ]
    header = [
        "clients",
        "request",
        "requests/s",
        "images/s",
        "/ floor",
        "p50 ms",
        "p99 ms",
        "failed",
        "Locust's CPU",
        "server's CPU",
    ]
    judged = [
        [name, f"{value:.3g}", bound, report.met(value, bound)]
        for name, value, bound in goals(results)
    ]
    floors = ", ".join(
        f"{kind} {floor[kind]['requests_per_s']:,.0f} requests/s (p50 {floor[kind]['p50_ms']:.2f} "
        f"ms, p99 {floor[kind]['p99_ms']:.2f} ms)"
        for kind in KINDS
    )
    pushed = ", ".join(
        (
            f"{p['version']} after {p['served_after_s']:.2f} s"
            if p["served_after_s"] is not None
            else f"{p['version']} not served within 30 s"
        )
        + f" (RSS {p['rss_mib']:+.0f} MiB)"
        for p in results["pushes"]
    )
    rss = results["rss_mib"]
    return (
        f"{markdown(header, rows)}\n\n{markdown(['goal', 'measured', 'target', 'met'], judged)}"
        f"\n\nModel: {results['model']}. Each run {results['seconds_per_run']:g} s of closed-loop "
        f"clients (Locust, headless, {cpus} cores shared with the server: CPU shares are of "
        f"the whole machine). Floor, the same bodies decoded and run on LiteRT in one "
        f"process for {results['floor_seconds']:g} s each: {floors}. Versions pushed during "
        f"the runs, served (status AVAILABLE; the server's RSS from just before the push "
        f"to then) {pushed}; at the end the server listed "
        f"{', '.join(results['served_at_end'])}. Server RSS {rss['first']:.0f} MiB after "
        f"warm-up, {rss['last']:.0f} MiB at the end ({rss['min']:.0f} to {rss['max']:.0f} "
        f"over {rss['samples']} samples), peak (VmHWM) {rss['peak_hwm']:.0f} MiB. Bench time "
        f"{results['seconds'] / 60:.1f} min.\n"
    )


SECTIONS = {"serve": tables}


if __name__ == "__main__":
    main()

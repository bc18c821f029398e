"""Measuring commands for the benches: wall time and peak RSS of a process, and the
stages' own run records (pipeline.run_record), not their logs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline import artifacts
from pipeline.reports import HeadlineMetrics
from pipeline.run_record import RECORD_ENV

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def scratch_env(prefix: str) -> Iterator[dict[str, str]]:
    """The bench's environment (bench_env), with every temp file of the bench and of what
    it runs (clones, data, tfds's prepared copy) in one scratch folder, removed at the end."""
    if not os.environ.get("DATA_MIRROR"):
        sys.exit("bench: set DATA_MIRROR to the MNIST mirror folder")
    env = bench_env()
    scratch = tempfile.mkdtemp(prefix=prefix)
    tempfile.tempdir, env["TMPDIR"] = scratch, scratch
    try:
        yield env
    finally:
        tempfile.tempdir = None
        shutil.rmtree(scratch, ignore_errors=True)


def bench_env() -> dict[str, str]:
    """The environment every measured command runs in: the mirror, this venv, this code."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "DATA_MIRROR": str(Path(os.environ["DATA_MIRROR"]).resolve()),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }


def measure(command: list[str], cwd: Path, env: dict | None = None, check: bool = True) -> dict:
    """Runs a command; returns wall seconds, its peak RSS in MiB (bench.rss), its output
    (stdout and stderr together) and when each line of it arrived (`line_s`, seconds from
    the start: whether a command prints as it goes).

    Exits the bench with the command's output if it fails, unless `check` is false.
    """
    import time

    with tempfile.TemporaryDirectory(prefix="bench-measure-") as scratch:
        peak = Path(scratch) / "peak.json"
        wrapped = [sys.executable, "-m", "bench.rss", str(peak), *command]
        wrapper_env = {**(env or os.environ), "PYTHONPATH": str(ROOT)}
        lines, line_s = [], []
        start = time.perf_counter()
        with subprocess.Popen(
            wrapped, cwd=cwd, env=wrapper_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        ) as process:
            for line in process.stdout:
                line_s.append(time.perf_counter() - start)
                lines.append(line.decode(errors="replace"))
        wall = time.perf_counter() - start
        output = "".join(lines)
        result = json.loads(peak.read_text())
    if check and result["returncode"] != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{output[-3000:]}")
    peak_mib = result["peak_rss_kib"] / 1024
    return {"wall_s": wall, "peak_rss_mib": peak_mib, "output": output, "line_s": line_s}


@contextlib.contextmanager
def run_record(env: dict) -> Iterator[tuple[dict, Callable[[], dict]]]:
    """An environment whose stages append their run record to a scratch file, and a reader
    of the last record (its `stage`, `seconds` and rates)."""
    with tempfile.TemporaryDirectory(prefix="bench-record-") as scratch:
        path = Path(scratch) / "record.jsonl"

        def last() -> dict:
            return json.loads(path.read_text().splitlines()[-1])

        yield {**env, RECORD_ENV: str(path)}, last


def headline_metrics(root: Path) -> HeadlineMetrics:
    """Evaluate's metrics in the clone at `root`, read through their type."""
    return HeadlineMetrics.from_json(json.loads((Path(root) / artifacts.METRICS_PATH).read_text()))

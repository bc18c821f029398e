"""What `make bench-serve` runs and watches: a real mnist-serve, Locust against it, the
server's memory sampled from /proc, and versions pushed while the load runs.

Linux only (/proc). Every process started here binds or talks to 127.0.0.1 only and is
stopped by its pid, whatever happens.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.measure import ROOT, bench_env
from pipeline import outputs

_LISTENING = re.compile(r"at http://127\.0\.0\.1:(\d+)/v1/models/")
_TICK = os.sysconf("SC_CLK_TCK")
LOCUSTFILE = ROOT / "bench" / "serve_locust.py"


def stop(process: subprocess.Popen) -> None:
    """Stops `process` by its pid: SIGTERM, then SIGKILL if it is still there 10 s later."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def server(base: Path, log: Path, timeout: float = 60) -> Iterator[tuple[int, str]]:
    """mnist-serve over `base` on a free port of 127.0.0.1: its pid and URL."""
    command = [sys.executable, "-m", "tools.serve.cli", "--model_base_path", str(base)]
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*command, "--rest_api_port", "0"], cwd=ROOT, env=bench_env(), stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + timeout
        while not (found := _LISTENING.search(log.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"bench: mnist-serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield process.pid, f"http://127.0.0.1:{found[1]}"
    finally:
        stop(process)


def cpu_seconds(pid: int) -> float:
    """The user and system CPU seconds process `pid` has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


class MemorySampler(threading.Thread):
    """Samples a process's VmRSS and VmHWM (its peak) every `every` seconds, in MiB."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(name="bench-rss", daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []  # (VmRSS, VmHWM)
        self._stopping = threading.Event()

    def sample(self) -> tuple[float, float]:
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
        )
        return tuple(int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))

    def run(self) -> None:
        while not self._stopping.wait(self.every):
            with contextlib.suppress(OSError):
                self.samples.append(self.sample())

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def locust(url: str, body: Path, path: str, users: int, seconds: float, prefix: Path) -> dict:
    """A headless Locust run of `users` closed-loop clients posting `body` to `path` for
    `seconds`: its aggregated statistics, and the CPU seconds Locust itself used."""
    command = [
        str(Path(sys.executable).with_name("locust")),
        *("-f", str(LOCUSTFILE), "--headless", "--only-summary", "--host", url),
        *("-u", str(users), "-r", str(users), "-t", f"{seconds:g}s", "--csv", str(prefix)),
        *("--loglevel", "WARNING"),
    ]
    env = {**bench_env(), "SERVE_BENCH_BODY": str(body), "SERVE_BENCH_PATH": path}
    started = time.perf_counter()
    with open(f"{prefix}.log", "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        stop(process)
    wall = time.perf_counter() - started
    stats = Path(f"{prefix}_stats.csv")
    if not stats.is_file():
        said = Path(f"{prefix}.log").read_text()[-3000:]
        sys.exit(f"bench: locust exited {status} without statistics:\n{said}")
    with open(stats) as file:
        row = next(r for r in csv.DictReader(file) if r["Name"] == "Aggregated")
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "requests_per_s": float(row["Requests/s"]),
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
        "locust_cpu_s": usage.ru_utime + usage.ru_stime,
        "wall_s": wall,
    }


def served_within(url: str, number: int, timeout: float = 30) -> float | None:
    """Seconds until version `number` answers its status as AVAILABLE (None: not in time)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        with contextlib.suppress(urllib.error.URLError, OSError):
            status = f"{url}/v1/models/mnist/versions/{number}"
            with urllib.request.urlopen(status, timeout=5) as answer:
                if b'"AVAILABLE"' in answer.read():
                    return time.perf_counter() - started
        time.sleep(0.05)
    return None


class Pusher(threading.Thread):
    """Pushes copies of the version `source` as the next numbers under `base`, one at each
    of `at` (seconds from `start`), as evaluate does: a hidden temp folder, renamed whole."""

    def __init__(
        self, source: Path, base: Path, url: str, at: list[float], memory: MemorySampler
    ) -> None:
        super().__init__(name="bench-pusher", daemon=True)
        self.source, self.base, self.url, self.at = source, base, url, at
        self.memory = memory  # the server's: its RSS before each push and once it serves
        self.pushes: list[dict] = []

    def run(self) -> None:
        started = time.monotonic()
        for when in self.at:
            time.sleep(max(0.0, started + when - time.monotonic()))
            number = max(int(p.name) for p in self.base.iterdir() if p.name.isdigit()) + 1
            before = self.memory.sample()[0]
            with outputs.atomic_output(self.base / str(number)) as temp:
                shutil.copytree(self.source, temp)
            served = served_within(self.url, number)
            grown = self.memory.sample()[0] - before
            self.pushes.append({"version": number, "served_after_s": served, "rss_mib": grown})

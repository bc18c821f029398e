"""A local Beam portable setup: a job service and an external SDK worker pool, as processes.

This is how Flink, Spark and Kubernetes deployments run Python workers (a worker-pool
sidecar, `--environment_type=EXTERNAL`), on free localhost ports. Used by the e2e tests and
by the bench; each process is stopped when the context ends.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("localhost", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{process.args} did not listen on port {port} in {timeout} s")


@contextlib.contextmanager
def portable_runner(container_executable: str | None = None) -> Iterator[list[str]]:
    """Starts a job service and a worker pool; yields the `preprocess.beam_args` for them.

    The processes start in a scratch folder, so a worker that resolved a relative path
    against its own working folder would find nothing there.

    Args:
        container_executable: what the pool starts as a worker instead of Beam's own
            (`/bin/false`: workers that never start).
    """
    job_port, pool_port = free_port(), free_port()
    commands = [
        [
            sys.executable,
            "-m",
            "apache_beam.runners.portability.local_job_service_main",
            f"--port={job_port}",
        ],
        [
            sys.executable,
            "-m",
            "apache_beam.runners.worker.worker_pool_main",
            f"--service_port={pool_port}",
            *([f"--container_executable={container_executable}"] if container_executable else []),
        ],
    ]
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        logs = [stack.enter_context(open(Path(scratch) / f"{n}.log", "w")) for n in range(2)]
        processes = [
            subprocess.Popen(command, cwd=scratch, stdout=log, stderr=subprocess.STDOUT)
            for command, log in zip(commands, logs, strict=True)
        ]
        try:
            for process, port in zip(processes, (job_port, pool_port), strict=True):
                _wait_for_port(port, process)
            yield [
                f"--job_endpoint=localhost:{job_port}",
                "--environment_type=EXTERNAL",
                f"--environment_config=localhost:{pool_port}",
            ]
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

"""Local stand-ins for a cluster, as processes on this machine, for the tests and the bench.

- `beam_portable()`: a Beam job service and an external SDK worker pool, the layout that
  Flink, Spark and Kubernetes deployments use for Python workers (a worker-pool sidecar,
  `--environment_type=EXTERNAL`);
- `dask()`: a Dask scheduler and workers, each its own process.

Everything listens on 127.0.0.1 only. Dask takes that from its flags; Beam's job service and
worker pool bind some of their gRPC ports on every interface, so they are started through
this module (`python -m bench.cluster job-service|worker-pool ...`), which
binds every port they open to the loopback address first. Each process starts in a
session of its own and is stopped by its process group when the context ends, whatever
happened in it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
_START_TIMEOUT_S = 60
_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited: {log.read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{process.args} did not listen on port {port}")


def _stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 20)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def _processes(commands: list[list[str]], ports: list[int | None]) -> Iterator[Path]:
    """Starts each command in a scratch folder, waits for its port; stops them all at the end.

    A worker that resolved a relative path against its own working folder would find
    nothing in the scratch folder: the pipeline must hand workers absolute paths.
    """
    # Beam's worker pool starts workers as `python ...`: this interpreter's, like the rest.
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(_ROOT),  # this module, run as `python -m` in the scratch folder
    }
    with tempfile.TemporaryDirectory(prefix="local-cluster-") as scratch:
        started = []
        try:
            for n, (command, port) in enumerate(zip(commands, ports, strict=True)):
                log = Path(scratch) / f"{n}.log"
                with open(log, "w") as out:
                    started.append(
                        subprocess.Popen(
                            command,
                            cwd=scratch,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            env=env,
                            start_new_session=True,
                        )
                    )
                if port:
                    _wait_for_port(port, started[-1], log)
            yield Path(scratch)
        finally:
            for process in started:
                _stop(process)


@contextlib.contextmanager
def beam_portable(container_executable: str | None = None) -> Iterator[list[str]]:
    """A Beam job service and worker pool; yields the `preprocess.beam_args` for them.

    Args:
        container_executable: what the pool starts as a worker instead of Beam's own
            (`/bin/false`: workers that never start).
    """
    job_port, pool_port = free_port(), free_port()
    this = [sys.executable, "-m", __name__]
    pool = [*this, "worker-pool", f"--service_port={pool_port}"]
    if container_executable:
        pool.append(f"--container_executable={container_executable}")
    commands = [[*this, "job-service", f"--port={job_port}"], pool]
    with _processes(commands, [job_port, pool_port]):
        yield [
            f"--job_endpoint={HOST}:{job_port}",
            "--environment_type=EXTERNAL",
            f"--environment_config={HOST}:{pool_port}",
        ]


@contextlib.contextmanager
def dask(workers: int = 2) -> Iterator[str]:
    """A Dask scheduler and `workers` single-threaded workers; yields the scheduler address.

    Dashboards listen on 127.0.0.1 too (by default Dask's listen on every interface).
    """
    port = free_port()
    address = f"tcp://{HOST}:{port}"
    dashboard = f"--dashboard-address={HOST}:0"
    scheduler = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", address]
    commands = [
        [*scheduler, f"--host={HOST}", f"--port={port}", dashboard],
        *[
            [*worker, f"--host={HOST}", dashboard, "--nthreads=1", "--no-nanny"]
            for _ in range(workers)
        ],
    ]
    with _processes(commands, [port, *[None] * workers]):
        if workers:
            with _client(address) as client:
                client.wait_for_workers(workers, timeout=_START_TIMEOUT_S)
        yield address


@contextlib.contextmanager
def _client(address: str) -> Iterator[Any]:
    from distributed import Client

    client = Client(address, timeout=_START_TIMEOUT_S)
    try:
        yield client
    finally:
        client.close()


def dask_tasks_run(address: str) -> dict[str, int]:
    """Tasks each worker of the scheduler at `address` has run so far, by worker address."""
    with _client(address) as client:
        return client.run(lambda dask_worker: dask_worker.state.executed_count)


def dask_worker_peak_rss_mib(address: str) -> dict[str, float]:
    """Each worker's peak resident memory so far, in MiB, by worker address."""
    with _client(address) as client:
        return client.run(_peak_rss_mib)


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bind_loopback_only() -> None:
    """Makes every gRPC server this process creates bind to 127.0.0.1, whatever it asks."""
    import grpc

    make_server = grpc.server

    def server(*args: Any, **kwargs: Any) -> Any:
        created = make_server(*args, **kwargs)
        bind = created.add_insecure_port

        def add_insecure_port(address: str) -> int:
            return bind(f"{HOST}:{address.rpartition(':')[2]}")

        created.add_insecure_port = add_insecure_port
        return created

    grpc.server = server


def main(argv: list[str]) -> None:
    """`job-service ARGS` or `worker-pool ARGS`: Beam's own service, bound to loopback."""
    _bind_loopback_only()
    service, args = argv[0], argv[1:]
    if service == "job-service":
        from apache_beam.runners.portability import local_job_service_main

        local_job_service_main.run([local_job_service_main.__file__, *args])
    elif service == "worker-pool":
        from apache_beam.runners.worker import worker_pool_main

        worker_pool_main.main(args)
    else:
        sys.exit("usage: python -m bench.cluster {job-service,worker-pool} ARGS")


if __name__ == "__main__":
    main(sys.argv[1:])

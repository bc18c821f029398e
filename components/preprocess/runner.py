"""Beam runner settings, checked before a pipeline starts, and running it to the end.

`preprocess.runner` and `preprocess.beam_args` go to Beam's PipelineOptions. Beam itself
drops an unknown flag with a warning, exits from argparse on a malformed one, raises a
ValueError for an unknown runner, and waits minutes on a job service or worker pool nobody
answers at. Here each of those is one line naming the setting and the fix, within seconds.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from typing import NoReturn

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem
from apache_beam.options import pipeline_options
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions
from apache_beam.runners import runner as beam_runners

from pipeline.errors import PipelineError, environment_error

KNOWN_RUNNERS = (
    "FnApiRunner",
    "DirectRunner",
    "PortableRunner",
    "FlinkRunner",
    "SparkRunner",
    "DaskRunner",
)
# Runners Beam knows by module path only; their options exist once the module is imported.
_BY_PATH = {"DaskRunner": "apache_beam.runners.dask.dask_runner"}
CONNECT_TIMEOUT_S = 10  # to reach a job service or worker pool that should be up already
_ARGS = "preprocess.beam_args"


class _Parser(pipeline_options._BeamArgumentParser):  # Beam's own, with every option
    def error(self, message: str) -> NoReturn:
        raise PipelineError(f"params: {_ARGS}: {message}; fix the flag in params.yaml")


def _runner_path(name: str) -> str:
    """The name Beam accepts for `name`: a module path for the runners it has no name for.

    Raises:
        PipelineError: if that runner's module cannot be imported (an optional extra).
    """
    module = _BY_PATH.get(name)
    if module is None:
        return name
    try:
        importlib.import_module(module)  # registers the runner's PipelineOptions too
    except ImportError:
        raise PipelineError(
            f"params: preprocess.runner {name} needs its extra: make setup EXTRAS=dask"
        ) from None
    return f"{module}.{name}"


def _check_flags(flags: list[str]) -> None:
    parser = _Parser(allow_abbrev=False)
    seen = set()
    for cls in PipelineOptions.__subclasses__():
        if str(cls) not in seen:
            seen.add(str(cls))
            cls._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(flags)
    if unknown:
        name = unknown[0].split("=", 1)[0]
        known = [option for action in parser._actions for option in action.option_strings]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]}?" if close else "see Beam's pipeline options"
        raise PipelineError(f"params: {_ARGS}: unknown flag {unknown[0]!r}; {hint}")


def _check_runner(name: str) -> None:
    try:
        beam_runners.create_runner(name)
    except (ValueError, ImportError):
        raise PipelineError(
            f"params: preprocess.runner {name!r} is not a Beam runner; use one of "
            f"{', '.join(KNOWN_RUNNERS)} (or DataflowRunner with apache-beam[gcp])"
        ) from None


def _unreachable(what: str, flag: str, address: str, why: str) -> PipelineError:
    return PipelineError(
        f"params: {_ARGS}: no {what} answers at {flag}={address} ({why}); start it, "
        "or fix the address"
    )


def _check_listening(address: str, what: str, flag: str) -> None:
    """Fails at once if nothing listens at host:port: the common case, said without a wait."""
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise _unreachable(what, flag, address, "not a host:port address")
    try:
        socket.create_connection(
            (host.strip("[]") or "localhost", int(port)), timeout=CONNECT_TIMEOUT_S
        ).close()
    except OSError as error:
        raise _unreachable(what, flag, address, error.strerror or type(error).__name__) from None


def _check_reachable(address: str, what: str, flag: str) -> None:
    """A Beam gRPC service at `address` answers, within CONNECT_TIMEOUT_S."""
    import grpc

    _check_listening(address, what, flag)
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT_S)
    except grpc.FutureTimeoutError:
        why = f"no gRPC answer within {CONNECT_TIMEOUT_S} s"
        raise _unreachable(what, flag, address, why) from None
    finally:
        channel.close()


def options(runner: str, beam_args: list[str]) -> PipelineOptions:
    """PipelineOptions from the params, once each setting is known to work.

    Raises:
        PipelineError: for an unknown or malformed flag, an unknown runner, or a job
            service or external worker pool that does not answer.
    """
    flags = [f"--runner={_runner_path(runner)}", *beam_args]
    _check_flags(flags)
    options = PipelineOptions(flags)
    _check_runner(options.view_as(pipeline_options.StandardOptions).runner)
    if runner == "DaskRunner":
        _check_dask(options)
    portable = options.view_as(PortableOptions)
    if portable.job_endpoint and portable.job_endpoint != "embed":
        _check_reachable(portable.job_endpoint, "Beam job service", "--job_endpoint")
    if (portable.environment_type or "").upper() == "EXTERNAL":
        address = portable.environment_config or ""
        _check_reachable(address, "Beam worker pool", "--environment_config")
    return options


def _check_dask(options: PipelineOptions) -> None:
    from apache_beam.runners.dask.dask_runner import DaskOptions

    address = options.view_as(DaskOptions).address
    if address:  # none: Beam starts a Dask cluster on this machine
        flag = "--dask_client_address"
        _check_listening(address.removeprefix("tcp://"), "Dask scheduler", flag)


class _DropDiskFull(logging.Filter):
    """Drops the traceback Beam logs for a write that found the disk full: the stage says
    so in one line of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and environment_error(record.exc_info[1]))


def quiet_logs() -> None:
    """Keeps Beam's log lines that a run's user needs, and only those. For `main`s only."""
    # A line per string type annotation, at INFO: a wall per run.
    logging.getLogger("apache_beam.typehints").setLevel(logging.WARNING)
    # The in-process worker's state cache announcing its size, at INFO, every run.
    logging.getLogger("apache_beam.runners.worker.statecache").setLevel(logging.WARNING)
    # The Dask runner's warning, once per Create, that its default partition size changed in
    # an earlier release: news about Beam, not about this run.
    logging.getLogger("apache_beam.runners.dask.transform_evaluator").setLevel(logging.ERROR)
    logging.getLogger("apache_beam.runners.common").addFilter(_DropDiskFull())


def absolute(path: str) -> str:
    """A local path made absolute (workers may run in another folder); others unchanged."""
    if isinstance(FileSystems.get_filesystem(path), LocalFileSystem):
        return os.path.abspath(path)
    return path


def run(p: beam.Pipeline, *, started: Callable[[], bool], start_timeout: float) -> None:
    """Runs the pipeline to the end, or until no worker has started within `start_timeout`.

    Args:
        started: whether a worker has started work (the pipeline leaves a mark).
        start_timeout: seconds to wait for that; a runner whose workers cannot start
            (a broken worker pool or container, a Dask scheduler without workers) otherwise
            waits forever.

    Raises:
        PipelineError: if no worker starts in time, or the runner reports a failure, with
            the runner's own last words.
    """
    runner = str(p.options.view_as(pipeline_options.StandardOptions).runner).rsplit(".")[-1]
    try:
        result = p.run()  # in-process runners finish here; the others submit the job
    except Exception as error:
        raise _failed(runner, error) from error
    try:
        _watch(result, runner, started, start_timeout)
    finally:
        # Beam's DaskRunner leaves its client connected to the scheduler, retrying in the
        # background once the scheduler is gone.
        if client := getattr(result, "client", None):
            with contextlib.suppress(Exception):
                client.close()


def _watch(
    result: beam.runners.runner.PipelineResult,
    runner: str,
    started: Callable[[], bool],
    start_timeout: float,
) -> None:
    outcome: list[BaseException | None] = []

    def wait() -> None:
        try:
            result.wait_until_finish()
            outcome.append(None)
        except Exception as error:  # reported by the caller's thread
            outcome.append(error)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    deadline = time.monotonic() + start_timeout
    while waiter.is_alive():
        waiter.join(1)
        if deadline and started():
            deadline = 0.0  # no more checks: the workers are up
        elif deadline and time.monotonic() > deadline and waiter.is_alive():
            with contextlib.suppress(Exception):
                result.cancel()
            raise PipelineError(
                f"preprocess: no Beam worker started within {start_timeout:g} s on {runner}; "
                f"{_WORKER_HINTS.get(runner, _WORKER_HINTS['PortableRunner'])}, or raise "
                "preprocess.worker_start_timeout for slow clusters"
            )
    if outcome and outcome[0] is not None:
        raise _failed(runner, outcome[0]) from outcome[0]


_WORKER_HINTS = {
    "PortableRunner": "check that the workers can start (--environment_type and "
    "--environment_config in preprocess.beam_args, the project installed on them)",
    "DaskRunner": "check that the Dask scheduler has workers and that they can import this "
    "project (installed with its dask extra where they run)",
}


def _failed(runner: str, error: BaseException) -> PipelineError:
    if isinstance(error, PipelineError):
        return error
    if full := environment_error(error):
        return full
    last = str(error).strip().splitlines()[-1:] or [type(error).__name__]
    # Beam's error holds the workers' tracebacks as text: all of it goes to the log file.
    evidence = "".join(traceback.format_exception(error))
    return PipelineError(
        f"preprocess: the Beam pipeline failed on {runner}: {last[0][:300]}", evidence=evidence
    )

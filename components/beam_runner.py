"""Beam runner settings, checked before a pipeline starts, and running it to the end.

`preprocess.runner` and `preprocess.beam_args` go to Beam's PipelineOptions. Beam itself
drops an unknown flag with a warning, exits from argparse on a malformed one, raises a
ValueError for an unknown runner, and waits minutes on a job service or worker pool nobody
answers at. Here each of those is one line naming the setting and the fix, within seconds.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import NoReturn

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem
from apache_beam.options import pipeline_options
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions
from apache_beam.runners import runner as beam_runners

from pipeline.errors import PipelineError

logger = logging.getLogger(__name__)

KNOWN_RUNNERS = ("FnApiRunner", "DirectRunner", "PortableRunner", "FlinkRunner", "SparkRunner")
CONNECT_TIMEOUT_S = 10  # to reach a job service or worker pool that should be up already
_ARGS = "preprocess.beam_args"


class _Parser(pipeline_options._BeamArgumentParser):  # Beam's own, with every option
    def error(self, message: str) -> NoReturn:
        raise PipelineError(f"params: {_ARGS}: {message}; fix the flag in params.yaml")


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


def _check_reachable(address: str, what: str, flag: str) -> None:
    import grpc  # a Beam dependency

    def unreachable(why: str) -> PipelineError:
        return PipelineError(
            f"params: {_ARGS}: no {what} answers at {flag}={address} ({why}); start it, "
            "or fix the address"
        )

    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise unreachable("not a host:port address")
    try:  # nothing listening is the common case: say so at once, not after a timeout
        socket.create_connection(
            (host or "localhost", int(port)), timeout=CONNECT_TIMEOUT_S
        ).close()
    except OSError as error:
        raise unreachable(error.strerror or type(error).__name__) from None
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT_S)
    except grpc.FutureTimeoutError:
        raise unreachable(f"no gRPC answer within {CONNECT_TIMEOUT_S} s") from None
    finally:
        channel.close()


def checked(runner: str, beam_args: list[str]) -> PipelineOptions:
    """PipelineOptions from the params, once each setting is known to work.

    Raises:
        PipelineError: for an unknown or malformed flag, an unknown runner, or a job
            service or external worker pool that does not answer.
    """
    flags = [f"--runner={runner}", *beam_args]
    _check_flags(flags)
    options = PipelineOptions(flags)
    _check_runner(options.view_as(pipeline_options.StandardOptions).runner)
    portable = options.view_as(PortableOptions)
    if portable.job_endpoint and portable.job_endpoint != "embed":
        _check_reachable(portable.job_endpoint, "Beam job service", "--job_endpoint")
    if (portable.environment_type or "").upper() == "EXTERNAL":
        address = portable.environment_config or ""
        _check_reachable(address, "Beam worker pool", "--environment_config")
    return options


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
            (a broken worker pool or container) otherwise waits forever.

    Raises:
        PipelineError: if no worker starts in time, or the runner reports a failure, with
            the runner's own last words.
    """
    runner = p.options.view_as(pipeline_options.StandardOptions).runner
    outcome: list[BaseException | None] = []

    def wait(result: beam.runners.runner.PipelineResult) -> None:
        try:
            result.wait_until_finish()
            outcome.append(None)
        except Exception as error:  # reported by the caller's thread
            outcome.append(error)

    try:
        result = p.run()  # in-process runners finish here; portable ones submit the job
    except Exception as error:
        raise _failed(runner, error) from error
    waiter = threading.Thread(target=wait, args=(result,), daemon=True)
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
                "check that the workers can start (--environment_type and "
                "--environment_config in preprocess.beam_args, the project installed on "
                "them), or raise preprocess.worker_start_timeout for slow clusters"
            )
    if outcome and outcome[0] is not None:
        raise _failed(runner, outcome[0]) from outcome[0]


def _failed(runner: str, error: BaseException) -> PipelineError:
    if isinstance(error, PipelineError):
        return error
    last = str(error).strip().splitlines()[-1:] or [type(error).__name__]
    return PipelineError(
        f"preprocess: the Beam pipeline failed on {runner}: {last[0][:300]}; see the workers' logs"
    )

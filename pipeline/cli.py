"""What every stage's `main()` shares: arguments, logging, and turning errors into one line."""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import json
import logging
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from pipeline import artifacts, outputs
from pipeline.errors import PipelineError, environment_error, shown_path

if TYPE_CHECKING:  # the params (and YAML) are imported by the stages that read them
    from pipeline.params import Params

logger = logging.getLogger("pipeline")


# Lines printed while TensorFlow, Beam and LiteRT load, none of them actionable: absl's notice
# that logging is not set up yet, oneDNN's and the CPU-feature notes, the CUDA probe on a
# machine without a GPU, Beam's warning about optional BigQuery clients it does not use, and
# LiteRT's note that it uses its fast CPU kernels (XNNPACK).
_STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called|oneDNN custom operations"
    r"|Could not find cuda drivers|cpu_feature_guard|To enable the following instructions"
    r"|rebuild TensorFlow with the appropriate compiler flags|apitools not found"
    r"|Created TensorFlow Lite XNNPACK delegate for CPU"
)


def set_tensorflow_log_level() -> None:
    """Keeps TensorFlow's C++ logging to errors, or to fatal ones without an NVIDIA driver,
    where its failed CUDA probe logs an error line. For process entry points only."""
    has_gpu_driver = os.path.exists("/proc/driver/nvidia")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if has_gpu_driver else "3")


@contextmanager
def quiet_native_startup() -> Iterator[None]:
    """Holds back what is written to stderr (fd 2, C++ included) while the block runs,
    then writes it out without the known start-up noise, or all of it if the block fails:
    a real import error is never hidden.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            kept = lines if failed else [line for line in lines if not _STARTUP_NOISE.search(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def escape_unencodable_output() -> None:
    """Writes a character the output's encoding lacks as Python's backslash escape (`\\xe9`,
    `\\u0663`), as Python itself writes stderr, rather than failing: a file or class name in
    any script reaches an ASCII-only terminal (`LANG=C`, `PYTHONIOENCODING=ascii`) as an
    escape. For process entry points only."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # not when a test or a caller has replaced it
            stream.reconfigure(errors="backslashreplace")


# Every line the project prints fits WIDTH columns: its own prefix is kept short (the time
# of day; the stage or tool by its own name, not its package's), so the message has room.
WIDTH = 120
_OWN_PACKAGES = ("components.", "tools.")


class _Formatter(logging.Formatter):
    """`12:48:27 INFO train: ...`: a record's time, level, short logger name and message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(short_name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        name = record.name
        record.short_name = next(
            (name.removeprefix(p) for p in _OWN_PACKAGES if name.startswith(p)), name
        )
        return super().format(record)


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)


def message_room(logger: logging.Logger, level: int = logging.WARNING) -> int:
    """The characters a message of `logger` at `level` has on a line of WIDTH."""
    record = logging.LogRecord(logger.name, level, "", 0, "", None, None)
    return WIDTH - len(_Formatter().format(record))


def flag(help: str) -> Any:
    """A field of a stage's `StagePaths`: the required command-line flag `--<field name>`."""
    return dataclasses.field(metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class StagePaths:
    """A stage's inputs and outputs, as its command line names them: each field is a
    required `--<field>` flag. The same fields parse the command and build it (for the
    bench and the tests); a test holds dvc.yaml's commands to them."""

    def argv(self) -> list[str]:
        """The flags that name these paths, in field order."""
        return [
            part
            for field in dataclasses.fields(self)
            for part in (f"--{field.name}", str(getattr(self, field.name)))
        ]


P = TypeVar("P", bound=StagePaths)


def arguments(paths: type[P], argv: list[str] | None, description: str) -> tuple[P, Params]:
    """A stage's command line: its paths and the params file, read and validated.

    Raises:
        PipelineError: for a params file that is missing or fails validation.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (params.yaml)")
    for field in dataclasses.fields(paths):
        parser.add_argument(f"--{field.name}", required=True, help=field.metadata["help"])
    args = parser.parse_args(argv)
    named = {field.name: getattr(args, field.name) for field in dataclasses.fields(paths)}
    from pipeline.params import load_params  # here: the tools that need no params skip YAML

    return paths(**named), load_params(args.params)


def workspace_path(path: str | Path) -> Path:
    """`path` in the user's workspace, also when DVC runs the stage in a copy of it.

    `dvc exp run --temp` and `dvc queue start` run stages in a copy of the project under
    `.dvc/tmp/exps/`; DVC sets DVC_ROOT to the project the experiment came from, so state
    shared by every run (the serving folder) resolves to the same place in all of them.
    """
    path = Path(path)
    return path if path.is_absolute() else Path(os.environ.get("DVC_ROOT", ".")) / path


RECORD_ENV = "PIPELINE_RUN_RECORD"
_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent exits


@contextmanager
def stage(name: str) -> Iterator[dict[str, Any]]:
    """Logs a stage's start and end with its wall time.

    Yields:
        The stage's run record, for the stage to add measurements to (rates, say). When
        the environment names a file in PIPELINE_RUN_RECORD, the record is appended to it
        as a JSON line: what `make bench` reads, so log messages can be reworded freely.
    """
    logger.info("stage %s: start", name)
    start = time.perf_counter()
    record: dict[str, Any] = {"stage": name}
    yield record
    record["seconds"] = time.perf_counter() - start
    logger.info("stage %s: done in %.1f s", name, record["seconds"])
    if path := os.environ.get(RECORD_ENV):
        with open(path, "a") as file:
            file.write(json.dumps(record) + "\n")


def _exit_now(status: int) -> NoReturn:
    """Ends the process without Python's teardown of its modules.

    With TensorFlow loaded that teardown is slow, once per stage, for nothing: outputs
    are closed and renamed into place by now.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _with_evidence(name: str, error: PipelineError) -> str:
    """The error's line, and where its evidence was written (see PipelineError)."""
    if error.evidence is None:
        return str(error)
    path = workspace_path(artifacts.LOGS_DIR) / f"{name}.log"
    try:
        outputs.write_text(path, error.evidence)
    except OSError:  # no room for it either: the line alone
        return str(error)
    return f"{error}; all of it is in {shown_path(path)}"


class Interrupted(KeyboardInterrupt):
    """A stop a signal asked for, handled as Ctrl-C is: outputs are left as they were."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupted_status(interrupt: KeyboardInterrupt) -> int:
    """The exit status a shell gives a process the signal stopped: 128 + its number."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)


def _interrupt(signum: int, frame: object) -> None:
    # Once: a second signal (a second Ctrl-C, the parent's death after a `kill`) must not
    # cut short the removal of what the first one left half-written.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_IGN)
    raise Interrupted(signum)


def handle_stop_signals() -> None:
    """Makes SIGTERM (what `kill`, `timeout`, CI systems and container stops send) stop the
    process as Ctrl-C does, and so the death of the process that started it: a stage whose
    `dvc repro` was killed stops too, rather than run on unseen. For entry points only."""
    for stop in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(stop) is not signal.SIG_IGN:  # ignored on purpose (nohup, &)
            signal.signal(stop, _interrupt)
    if not ends_with_parent(signal.SIGTERM, os.getppid()):
        raise Interrupted(signal.SIGTERM)


def ends_with_parent(signum: int, parent: int) -> bool:
    """Asks the kernel to send this process `signum` when its parent dies, a SIGKILL
    included; kept across exec (Linux; elsewhere nothing is asked).

    Returns:
        False if the parent, process `parent`, has died already: nothing would be sent.
    """
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum)
    return os.getppid() == parent


def run(main: Callable[[], None], name: str) -> None:
    """Runs the `main` of the stage called `name`: a PipelineError, or a write that found no
    room or no permission, becomes one line and exit status 1; SIGINT or SIGTERM, one line
    and 128 + the signal's number."""
    setup_logging()
    try:
        handle_stop_signals()
        main()
    except PipelineError as error:
        logger.error("%s", _with_evidence(name, error))
        _exit_now(1)
    except KeyboardInterrupt as interrupt:
        logger.error("interrupted; outputs were left as they were before this run")
        _exit_now(interrupted_status(interrupt))
    except Exception as error:
        if (said := environment_error(error)) is None:
            raise
        logger.error("%s", said)
        _exit_now(1)
    _exit_now(0)

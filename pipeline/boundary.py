"""The console boundary every process entry point goes through, the stages' (`run`) and the
tools' (`guarded` in their `main`, `console` as their script): a PipelineError becomes one
line and exit status 1, its evidence written to the log the line names; Ctrl-C or SIGTERM,
a line and 128 + the signal's number. The functions under it return or raise.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from pipeline import outputs, workspace
from pipeline.errors import PipelineError, environment_error, shown_path
from pipeline.logs import escape_unencodable_output, setup_logging
from pipeline.signals import handle_stop_signals, interrupted_status

logger = logging.getLogger("pipeline")

STAGE_INTERRUPTED = "interrupted; outputs were left as they were before this run"


def with_evidence(name: str, error: PipelineError) -> str:
    """The error's line, and where its evidence was written (see PipelineError): the log of
    the stage or tool called `name`, in the user's project (pipeline.workspace)."""
    if error.evidence is None:
        return str(error)
    path = workspace.log_file(name)
    try:
        outputs.write_text(path, error.evidence)
    except OSError:  # no room for it either: the line alone
        return str(error)
    return f"{error}; all of it is in {shown_path(path)}"


def guarded(
    main: Callable[[], int | None],
    name: str,
    *,
    said_by: logging.Logger = logger,
    interrupted: str | None,
    environment: bool = False,
) -> int:
    """Runs `main` and returns its exit status (0 for None), or the status of how it failed,
    having said so in one line.

    Args:
        name: the stage or tool, which names its log.
        said_by: the logger whose name prefixes the line.
        interrupted: the line for a stop (Ctrl-C, SIGTERM); None says nothing.
        environment: whether a write that found no room or no permission, wherever a
            library wrapped it, is one line too (stages: pipeline.errors.environment_error).
    """
    try:
        return main() or 0
    except PipelineError as error:
        said_by.error("%s", with_evidence(name, error))
        return 1
    except KeyboardInterrupt as interrupt:
        if interrupted is not None:
            said_by.error("%s", interrupted)
        return interrupted_status(interrupt)
    except Exception as error:
        if not environment or (said := environment_error(error)) is None:
            raise
        said_by.error("%s", said)
        return 1


def _exit_now(status: int) -> NoReturn:
    """Ends the process without Python's teardown of its modules.

    With TensorFlow loaded that teardown is slow, once per stage, for nothing: outputs
    are closed and renamed into place by now.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def run(main: Callable[[], None], name: str) -> NoReturn:
    """Runs the `main` of the stage called `name` and ends the process: a PipelineError, or
    a write that found no room or no permission, becomes one line and exit status 1;
    SIGINT or SIGTERM, one line and 128 + the signal's number."""
    setup_logging()

    def started() -> None:
        handle_stop_signals()
        main()

    _exit_now(guarded(started, name, interrupted=STAGE_INTERRUPTED, environment=True))


def console(main: Callable[[], int], level: int = logging.INFO) -> NoReturn:
    """A console script's process entry point: SIGTERM and the parent's death stop it as
    Ctrl-C does, unencodable characters are escaped, lines logged from `level` up; exits
    with `main`'s status. A reader that stops reading (`| head`) ends it with status 0."""
    try:
        handle_stop_signals()
        escape_unencodable_output()
        setup_logging(level)
        status = main()
    except KeyboardInterrupt as interrupt:  # before `main` could say anything of it
        status = interrupted_status(interrupt)
    except BrokenPipeError:
        sys.stderr.close()
        status = 0
    sys.exit(status)

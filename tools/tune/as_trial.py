"""The process each mnist-tune trial runs in: `python -m tools.tune.as_trial <pid> <command>`.

It runs the command (a trial's `dvc exp run --temp ...`) as its child, and ends as the
command ended once no process of the trial is left, so that:

- the command hears SIGINT, which mnist-tune's stop sends the trial's process group, even
  where mnist-tune's own SIGINT is ignored (started with `&` by a script, or nohup), which a
  child would inherit: DVC must hear it to clean up;
- the command gets SIGTERM when mnist-tune (process `<pid>`) dies, a SIGKILL included
  (Linux): DVC, which has no handler for it, ends at once and its stage with it
  (pipeline.signals), rather than run on unseen. (SIGINT would not do: DVC ignores it while a
  stage runs.) The next mnist-tune removes the experiment it leaves listed as running;
- the run's lock, which mnist-tune passes down, stays held until the last process of the
  trial has ended: this process adopts what DVC leaves behind as it dies (a child
  subreaper, Linux) and waits for all of its process group. So the next mnist-tune, which
  takes that lock, finds no process at work in what a killed trial left.

A module run as a process of its own because Popen's `preexec_fn`, the alternative, is
unsafe from mnist-tune's threads.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys

from pipeline.signals import ends_with_parent

_PR_SET_CHILD_SUBREAPER = 36  # prctl(2): orphaned descendants become this process's children


def wrap(command: list[str]) -> list[str]:
    """`command`, to run as a trial of this process."""
    return [sys.executable, "-m", "tools.tune.as_trial", str(os.getpid()), *command]


class _Child:
    """The command's process, once started, and whether a SIGTERM came for it before."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.terminated = False

    def terminate(self, *handler_args: object) -> None:
        self.terminated = True
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)


def run(parent: int, command: list[str]) -> int:
    """Runs `command` as a trial of process `parent` (see the module's docstring).

    Returns:
        The command's exit status, as Popen gives it (minus the number of a signal that
        ended it).
    """
    child = _Child()
    # Handled, not ignored: a handler is reset to the default in the command, an ignore is
    # not. The SIGINT is the command's to act on; this process waits for it.
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, child.terminate)
    if not ends_with_parent(signal.SIGTERM, parent):  # mnist-tune died already
        return 128 + signal.SIGTERM
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)
    # close_fds=False: the command holds the run's lock too (what mnist-tune passed down is
    # all that is inheritable here, with the standard streams).
    process = subprocess.Popen(command, close_fds=False)
    child.pid = process.pid
    if child.terminated:  # the SIGTERM came while it started
        child.terminate()
    status = process.wait()
    child.pid = None  # a pid free for the next process to take
    with contextlib.suppress(ChildProcessError):
        while True:  # every process left in this group: the command's stages
            os.waitpid(0, 0)
    return status


def _end_as(status: int) -> None:
    """Ends this process as the command ended: with its status, or by its signal."""
    if status < 0:
        with contextlib.suppress(OSError):  # SIGKILL's action is no process's to set
            signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    _end_as(run(int(sys.argv[1]), sys.argv[2:]))

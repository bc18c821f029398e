"""Stopping as Ctrl-C does on SIGTERM and when the parent process dies: outputs are left as
they were. For process entry points only (the handlers are the process's)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent exits


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

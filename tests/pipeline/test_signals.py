import os
import signal

from pipeline import signals


def test_a_stop_exits_as_a_shell_says_the_signal_stopped_it():
    assert signals.interrupted_status(KeyboardInterrupt()) == 128 + signal.SIGINT
    assert signals.interrupted_status(signals.Interrupted(signal.SIGTERM)) == 128 + signal.SIGTERM
    assert str(signals.Interrupted(signal.SIGTERM)) == "SIGTERM"


def test_a_parent_that_is_gone_already_is_said():
    assert signals.ends_with_parent(0, os.getppid())  # 0: nothing is asked of the kernel
    assert not signals.ends_with_parent(0, -1)

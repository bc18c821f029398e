import signal
import subprocess
import sys
import time

from tools.tune import trials

SLEEPER = "import time; time.sleep(60)"  # a run that Ctrl-C stops, as DVC's is
DEAF = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"


def _start(code: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    time.sleep(0.5)  # its handlers set
    return process


def test_a_trial_is_stopped_with_sigint_so_dvc_can_clean_up():
    process = _start(SLEEPER)
    assert trials.stop_groups({"a": process}, grace=30) == []
    assert process.returncode == -signal.SIGINT  # Python unwound, then ended on it


def test_trials_that_outlive_the_grace_are_killed_on_one_deadline():
    deaf, other_deaf, sleeper = _start(DEAF), _start(DEAF), _start(SLEEPER)
    started = time.monotonic()
    stopped = {"a": deaf, "b": other_deaf, "c": sleeper}
    assert trials.stop_groups(stopped, grace=2.0) == ["a", "b"]
    assert deaf.returncode == other_deaf.returncode == -signal.SIGKILL
    assert sleeper.returncode == -signal.SIGINT
    assert time.monotonic() - started < 3.9  # one grace for all: one each would be 4 s


def test_no_trial_starts_once_the_run_stops(tmp_path):
    runs = trials.Trials(tmp_path)
    runs.stop()
    assert runs.run("s-000", {"train.epochs": 1}) == trials.INTERRUPTED
    assert runs.running == {}


def test_outside_a_dvc_project_there_is_nothing_left_running_to_remove(tmp_path):
    assert trials.remove_left_running(tmp_path, ["s-000"]) == []


def test_a_trial_hears_sigint_where_mnist_tune_ignores_it():
    # Started with `&` by a script, mnist-tune ignores SIGINT, and a child would inherit that.
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process = subprocess.Popen(
            [*trials.HEARING_SIGINT, sys.executable, "-c", SLEEPER], start_new_session=True
        )
        time.sleep(0.5)  # its handlers set
    finally:
        signal.signal(signal.SIGINT, ignored)
    assert trials.stop_groups({"a": process}, grace=30) == []
    assert process.returncode == -signal.SIGINT

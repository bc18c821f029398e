import os
import signal
import subprocess
import sys
import time

from tools.tune import as_trial, trials

SLEEPER = "import time; time.sleep(60)"  # a run that Ctrl-C stops, as DVC's is
# A command that leaves a process of its group behind as it exits, as a DVC killed under its
# stage does, and one of another session, as DVC's own daemons are.
ORPHAN = """
import subprocess, sys
mark = sys.argv[1]
code = f"import time; time.sleep({sys.argv[2]}); open({mark!r}, 'w').close()"
left = subprocess.Popen([sys.executable, "-c", code], start_new_session=sys.argv[3] == "True")
print(left.pid, flush=True)
"""


def _trial(*command: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(as_trial.wrap(list(command)), start_new_session=True, **popen)


def test_a_trial_ends_as_its_command_did():
    assert _trial(sys.executable, "-c", "raise SystemExit(3)").wait(timeout=60) == 3
    assert _trial(sys.executable, "-c", "pass").wait(timeout=60) == 0
    killed = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert _trial(sys.executable, "-c", killed).wait(timeout=60) == -signal.SIGKILL


def test_a_trial_hears_sigint_where_mnist_tune_ignores_it():
    # Started with `&` by a script, mnist-tune ignores SIGINT, and a child would inherit that.
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process = _trial(sys.executable, "-c", SLEEPER)
        time.sleep(0.5)  # its handlers set
    finally:
        signal.signal(signal.SIGINT, ignored)
    assert trials.stop_groups({"a": process}, grace=30) == []
    assert process.returncode == -signal.SIGINT


def test_a_trial_ends_only_once_the_processes_its_command_left_have(tmp_path):
    # What keeps the run's lock held until nothing of a killed trial works in its folder.
    mark = tmp_path / "ended"
    process = _trial(
        sys.executable, "-c", ORPHAN, str(mark), "2", "False", stdout=subprocess.DEVNULL
    )
    assert process.wait(timeout=60) == 0
    assert mark.exists()


def test_a_trial_does_not_wait_for_processes_of_another_session(tmp_path):
    mark = tmp_path / "ended"
    started = time.monotonic()
    process = _trial(
        sys.executable, "-c", ORPHAN, str(mark), "30", "True", stdout=subprocess.PIPE, text=True
    )
    with process.stdout:
        left = int(process.stdout.readline())
    try:
        assert process.wait(timeout=60) == 0
        assert time.monotonic() - started < 20 and not mark.exists()
    finally:
        os.kill(left, signal.SIGKILL)


def test_a_trial_of_a_process_already_dead_does_not_run(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mark = tmp_path / "ran"
    command = [sys.executable, "-c", f"open({str(mark)!r}, 'w').close()"]
    result = subprocess.run([sys.executable, "-m", "tools.tune.as_trial", str(dead.pid), *command])
    assert result.returncode == 128 + signal.SIGTERM and not mark.exists()

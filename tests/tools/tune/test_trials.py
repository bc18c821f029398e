import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline import outputs
from pipeline.errors import PipelineError
from tests.support import ROOT
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
            trials.as_trial([sys.executable, "-c", SLEEPER]), start_new_session=True
        )
        time.sleep(0.5)  # its handlers set
    finally:
        signal.signal(signal.SIGINT, ignored)
    assert trials.stop_groups({"a": process}, grace=30) == []
    assert process.returncode == -signal.SIGINT


# A `dvc` for the trials that says when it runs and, on SIGTERM, takes a while to end (as a
# DVC that cleaned up on SIGTERM would), so the lock can be seen held meanwhile.
_FAKE_DVC = """#!{python}
import os, signal, sys, time
from pathlib import Path
folder = Path(__file__).parent
def ending(signum, frame):
    (folder / "heard").write_text(signal.Signals(signum).name)
    time.sleep(3)
    (folder / "done").write_text("")
    sys.exit(128 + signum)
signal.signal(signal.SIGTERM, ending)
(folder / "up").write_text(str(os.getpid()))
time.sleep(60)
"""
_TUNE = """
import sys
from pathlib import Path
from pipeline import outputs
from tools.tune import trials
with outputs.exclusive_lock(Path(sys.argv[1])) as lock:
    trials.Trials(Path(sys.argv[2]), held=(lock.fileno(),)).run("s-000", {})
"""


def _appears(path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def test_a_killed_mnist_tunes_trials_end_with_it_and_hold_its_lock_until_they_have(tmp_path):
    # SIGKILL reaches no handler: the trials learn of it from the kernel, and no second
    # mnist-tune starts before they have ended.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dvc"
    fake.write_text(_FAKE_DVC.format(python=sys.executable))
    fake.chmod(0o755)
    storage = tmp_path / "studies.db"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    tune = subprocess.Popen([sys.executable, "-c", _TUNE, str(storage), str(tmp_path)],
                            cwd=ROOT, env=env)  # fmt: skip
    try:
        _appears(bin_dir / "up")
        tune.kill()
        tune.wait()
        _appears(bin_dir / "heard", timeout=10)
        assert (bin_dir / "heard").read_text() == "SIGTERM"
        refused = pytest.raises(PipelineError, match="another run is writing")
        with refused, outputs.exclusive_lock(storage):  # the trial has not ended yet
            pass
        _appears(bin_dir / "done", timeout=10)
        deadline = time.monotonic() + 10
        while True:  # free once the trial has exited
            try:
                with outputs.exclusive_lock(storage):
                    break
            except PipelineError:
                assert time.monotonic() < deadline, "the lock outlived the trials"
                time.sleep(0.05)
    finally:
        tune.kill()
        tune.wait()
        if (bin_dir / "up").exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int((bin_dir / "up").read_text()), signal.SIGKILL)

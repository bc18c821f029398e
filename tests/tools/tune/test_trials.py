import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import artifacts, outputs
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
from pipeline import artifacts, outputs
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


# A DVC project of one stage that writes the metrics files a trial is read back from, or
# first marks that it runs and waits (wait=1), for a trial to be killed in.
_STAGE = f"""
import json, sys, time
from pathlib import Path
if sys.argv[1] == "1":
    Path("started").touch()
    time.sleep(60)
for path, scores in [
    ("{artifacts.LIVE_SUMMARY_PATH}", {{"train": {{"accuracy": 0.5, "loss": 1.0}},
                                        "val": {{"accuracy": 0.25, "loss": 2.0}}}}),
    ("{artifacts.METRICS_PATH}", {{"test": {{"accuracy": 0.75, "loss": 0.5}}, "blessed": False}}),
]:
    Path(path).parent.mkdir(exist_ok=True)
    Path(path).write_text(json.dumps(scores))
"""
_DVC_YAML = f"""
stages:
  score:
    cmd: {sys.executable} stage.py ${{wait}}
    deps: [stage.py]
    params: [wait]
    metrics:
      - {artifacts.LIVE_SUMMARY_PATH}: {{cache: false}}
      - {artifacts.METRICS_PATH}: {{cache: false}}
"""
_ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
}  # fmt: skip
UPGRADING = "see docs/upgrading.md, 'DVC's temp experiment executors'"


def _call(root: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=root, env=_ENV, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dvc-project")
    (root / "stage.py").write_text(_STAGE)
    (root / "dvc.yaml").write_text(_DVC_YAML)
    (root / "params.yaml").write_text("wait: 0\n")
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"],
                    ["git", "commit", "-q", "-m", "a project"]):  # fmt: skip
        assert _call(root, *command).returncode == 0, command
    return root


def _states(root: Path) -> dict[str, str]:
    """Each experiment's state by name, as `dvc exp show --json` says it."""
    shown = json.loads(_call(root, "dvc", "exp", "show", "--json").stdout)
    return {
        exp["name"]: (exp.get("executor") or {}).get("state", "success")
        for baseline in shown
        for exp in baseline.get("experiments") or []
    }


def test_a_finished_trial_is_read_back_from_its_experiment(dvc_project):
    run = _call(dvc_project, "dvc", "exp", "run", "--temp", "-n", "t-001")
    assert run.returncode == 0, run.stdout + run.stderr
    assert trials.experiment_result(dvc_project, "t-001") == trials.TrialResult(0.25, 0.75)
    assert trials.experiment_result(dvc_project, "t-404") == (
        "dvc exp run succeeded but kept no experiment named t-404"
    )


@pytest.mark.e2e  # DVC run, killed and shown: seconds, on a loaded machine tens
def test_an_experiment_a_killed_trial_left_running_is_removed_as_dvc_would(dvc_project):
    # The canary of the one private use of DVC: it fails here, naming what changed, rather
    # than leave a user's experiments listed as running for good.
    run = subprocess.Popen(
        ["dvc", "exp", "run", "--temp", "-n", "t-002", "-S", "wait=1"], cwd=dvc_project,
        env=_ENV, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    executors = dvc_project / ".dvc" / "tmp" / "exps" / "standalone"
    deadline = time.monotonic() + 120
    while not list(executors.glob("tmp*/started")):
        assert run.poll() is None and time.monotonic() < deadline, "the trial never started"
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert _states(dvc_project).get("t-002") == "running", f"DVC lists it no more: {UPGRADING}"
    removed = _call(dvc_project, "dvc", "exp", "remove", "t-002")
    assert removed.returncode != 0, f"dvc exp remove removes it now: use it. {UPGRADING}"
    assert trials.remove_left_running(dvc_project, ["t-002", "t-003"]) == ["t-002"], UPGRADING
    assert "t-002" not in _states(dvc_project), UPGRADING
    assert not list(executors.glob("tmp*")), UPGRADING


def test_a_shared_studys_trial_waits_for_dvcs_lock_a_push_holds(dvc_project, monkeypatch):
    # A push (`dvc exp push`, data upload and all) holds DVC's lock on the project longer
    # than the 3 s DVC waits: a trial starting meanwhile waits for it rather than failing.
    for name, value in _ENV.items():
        monkeypatch.setenv(name, value)
    params = dvc_project / "params.yaml"
    before = params.read_text()
    params.write_text(before + "evaluate:\n  push: true\n")  # a trial sets it false
    holder = subprocess.Popen(
        [sys.executable, "-c", "from dvc.repo import Repo; import time; Repo('.').lock.lock(); "
         "print('held', flush=True); time.sleep(6)"],
        cwd=dvc_project, env=_ENV, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        ran = trials.Trials(dvc_project, push_to="nowhere").run("t-lock", {"wait": 0})
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        params.write_text(before)
    assert ran == trials.TrialResult(0.25, 0.75), ran

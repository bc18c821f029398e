"""Trials as DVC experiments: each a `dvc exp run --temp` process (in tools.tune.as_trial),
read back from its git commit, and stopped so that DVC cleans up after it.

DVC runs a `--temp` experiment in an executor folder under `.dvc/tmp/exps/standalone/` and
tracks it in an info file; `dvc exp show` lists it as running while that file says so and
the folder exists. DVC marks the file finished and deletes the folder on the way out of
Python (a `finally`), which SIGINT reaches: while a stage runs DVC ignores SIGINT and waits
for the stage, which gets it too, stops, and fails the run. DVC sets no SIGTERM handler, so
SIGTERM, like SIGKILL, ends it with no clean-up: the experiment stays "running" for good,
and no DVC command removes it. So a trial is stopped with SIGINT, and one that has not
ended within `STOP_GRACE` is killed and cleaned up here, as DVC would have
(`remove_left_running`, the one use of DVC's private API).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline import artifacts
from pipeline.reports import HeadlineMetrics, TrainingMetrics
from tools.tune import as_trial
from tools.tune.space import overrides

logger = logging.getLogger(__package__)

NO_PUSH = "evaluate.push=false"
STOP_GRACE = 20.0  # seconds a stopped trial has for DVC's clean-up before it is killed
INTERRUPTED = "interrupted"


@dataclasses.dataclass(frozen=True)
class TrialResult:
    """What a finished trial's experiment scored, as its commit's metrics files hold it."""

    val_accuracy: float  # the last epoch's: what trials are ranked by
    test_accuracy: float  # reported for the best trial, never used to choose


class Trials:
    """Trials as DVC experiments: started as processes, read back from their git commits."""

    def __init__(
        self,
        root: Path,
        grace: float = STOP_GRACE,
        held: tuple[int, ...] = (),
        push_to: str | None = None,
    ):
        """
        Args:
            held: descriptors of locks the run holds, which each trial holds too, so they
                stay held until the last trial has ended, even if mnist-tune is killed.
            push_to: the git remote each finished trial's experiment is pushed to (`dvc
                exp push`, its data to the DVC remote), for other clones to pull; None: kept
                here.
        """
        self.root = root
        self.grace = grace
        self.held = held
        self.push_to = push_to
        self._pushing = threading.Lock()
        self.running: dict[str, subprocess.Popen] = {}
        self._stopped = False
        self._lock = threading.Lock()

    def run(self, name: str, params: dict[str, Any]) -> TrialResult | str:
        """Runs one trial to its end.

        Returns:
            Its result, or why it failed.
        """
        command = ["dvc", "exp", "run", "--temp", "-n", name]
        if self.push_to is not None:
            # A push holds DVC's lock on the project, data upload and all: a trial starting
            # or collecting meanwhile waits for it rather than failing after DVC's 3 s.
            command.insert(1, "--wait-for-lock")
        for override in [*overrides(params), NO_PUSH]:
            command += ["-S", override]
        command = as_trial.wrap(command)
        with self._lock:  # a trial starting as the run stops must not start after stop()
            if self._stopped:
                return INTERRUPTED
            process = subprocess.Popen(
                command,
                cwd=self.root,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # Ctrl-C is mnist-tune's to handle, not each trial's
                pass_fds=self.held,
            )
            self.running[name] = process
        output, _ = process.communicate()
        with self._lock:
            self.running.pop(name, None)
        if process.returncode != 0:
            return _last_error(output) or f"dvc exp run exited {process.returncode}"
        result = experiment_result(self.root, name)
        if self.push_to is not None and not isinstance(result, str):
            self._push(name, self.push_to)
        return result

    def _push(self, name: str, remote: str) -> None:
        """Pushes the experiment called `name` to the git remote and its data to the DVC
        remote; one push at a time, as each takes DVC's lock on the project. A push that
        fails is said, and leaves the trial as it is: `dvc exp push` can send it later."""
        with self._pushing:
            pushed = subprocess.run(
                ["dvc", "--wait-for-lock", "exp", "push", remote, name],
                cwd=self.root, capture_output=True, text=True,
            )  # fmt: skip
        if pushed.returncode != 0:
            why = _last_error(pushed.stdout + pushed.stderr) or f"exited {pushed.returncode}"
            logger.warning("trial %s not pushed to %s: %s", name, remote, why[:60])

    def stop(self) -> None:
        """Stops every trial still running, and starts none after: SIGINT to each one's
        process group, so DVC cleans up; what has not ended within the grace is killed,
        and its experiment removed as DVC's clean-up would."""
        with self._lock:
            self._stopped = True
            running = dict(self.running)
        killed = stop_groups(running, self.grace)
        if killed:
            remove_left_running(self.root, killed)


def stop_groups(processes: dict[str, subprocess.Popen], grace: float) -> list[str]:
    """SIGINT to every process group the `processes` lead, at once; SIGKILL to those that
    have not ended `grace` seconds later (one deadline for all, so a supervisor's own
    timeout sees them all stopped or killed).

    Returns:
        The names of the processes killed.
    """
    for process in processes.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
    deadline, killed = time.monotonic() + grace, []
    for name, process in processes.items():
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            killed.append(name)
    return killed


def remove_left_running(root: Path, names: Iterable[str]) -> list[str]:
    """Removes the temp experiments called `names` that DVC lists as running but no process
    runs (their `dvc exp run --temp` was killed): their executor folders go, their info files
    say failed. What DVC does when such a run fails, through DVC's own executor classes: the
    one use of DVC's private API here, as no DVC command removes such an experiment (`dvc exp
    remove` knows only finished and queued ones). Its canaries: tests/test_upgrading.py and
    tests/tools/tune/test_trials.py.

    Only while this process holds the study's lock: no process of any trial runs then, as
    each trial holds that lock until the last of its processes has ended (tools.tune.as_trial).

    Returns:
        The names of the experiments removed.
    """
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo
    from dvc.repo.experiments.executor.base import ExecutorInfo, TaskStatus
    from dvc.repo.experiments.executor.local import TempDirExecutor

    wanted, removed = set(names), []
    try:
        repo = Repo(os.fspath(root))
    except NotDvcRepoError:
        return removed
    with repo:
        queue = repo.experiments.tempdir_queue
        for entry in list(queue.iter_active()):
            infofile = queue.get_infofile_path(entry.stash_rev)
            info = ExecutorInfo.load_json(infofile)
            if info.name not in wanted:
                continue
            info.status = TaskStatus.FAILED
            info.dump_json(infofile)
            TempDirExecutor.from_info(info).cleanup(infofile)
            removed.append(info.name)
    return removed


def _last_error(output: str) -> str:
    lines = [line for line in output.splitlines() if "ERROR" in line]
    return (lines[-1] if lines else "").strip()[:300]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def experiment_rev(root: Path, name: str) -> str | None:
    """The commit of the experiment called `name`: DVC keeps it as a git ref,
    `refs/exps/<baseline>/<name>`. Read with git, not DVC: `dvc.api.metrics_show(rev=...)`
    reads the workspace's metrics too, and fails where it has none; `dvc exp show` opens the
    folder of every trial still running, which DVC deletes as each ends."""
    refs = _git(root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps")
    for line in refs.splitlines():
        rev, ref = line.split(" ", 1)
        if ref.endswith(f"/{name}"):
            return rev
    return None


def experiment_result(root: Path, name: str) -> TrialResult | str:
    """The result of the finished experiment called `name`, or why there is none."""
    rev = experiment_rev(root, name)
    if rev is None:
        return f"dvc exp run succeeded but kept no experiment named {name}"
    live, test = artifacts.LIVE_SUMMARY_PATH, artifacts.METRICS_PATH
    try:
        training = TrainingMetrics.from_json(json.loads(_git(root, "show", f"{rev}:{live}")))
        tested = HeadlineMetrics.from_json(json.loads(_git(root, "show", f"{rev}:{test}")))
    except (subprocess.CalledProcessError, ValueError) as error:
        return f"experiment {name} has no readable metrics ({type(error).__name__})"
    return TrialResult(training.val.accuracy, tested.test.accuracy)

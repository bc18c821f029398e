"""A temporary clone of the project driven through DVC, for the end-to-end tests.

Each e2e test works in a clone of its own, most in a copy (`copies`) of a baseline built
once per test run (`frozen_project`), so no test depends on another's order or leftovers,
and the baselines' pipeline runs are paid once however many tests start from them. What a test
checks it reads from machine output: the stages' own run records (which stages ran),
`dvc.lock`, `dvc status --json`, `dvc exp show --json` and the pipeline's JSON reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from components import STAGES
from pipeline import artifacts, logs, run_record
from tests.support import ROOT
from tests.support.once import built_once

_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "e2e",
    "GIT_AUTHOR_EMAIL": "e2e@example.com",
    "GIT_COMMITTER_NAME": "e2e",
    "GIT_COMMITTER_EMAIL": "e2e@example.com",
}
ALL_STAGES = list(STAGES)
AFTER_TRAINING = ALL_STAGES[ALL_STAGES.index("train") :]
PATHS = dict(artifacts.paths)
BLESSING = f"{PATHS['reports']}/{artifacts.BLESSING_FILE}"
METRICS = artifacts.METRICS_PATH


def copy_work_tree(dest: Path) -> None:
    """Copies the project as a fresh clone would see it, uncommitted changes included."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


class Project:
    def __init__(self, path: Path, mirror: Path):
        self.path = path
        self.records = path.with_name(f"{path.name}-runs.jsonl")  # outside the clone
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            **_GIT_IDENTITY,
            "DATA_MIRROR": str(mirror),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            run_record.RECORD_ENV: str(self.records),
            # DVC runs each command with `$SHELL -c`, /bin/sh when SHELL is unset (as in CI):
            # dash, which stays between DVC and the stage, where bash would exec it.
            "SHELL": "/bin/sh",
            # The width the project's lines must fit (DVC's own are its business).
            "COLUMNS": str(logs.WIDTH),
            # No report sent home after each DVC command: its sender, a process in the clone,
            # would wait on a network the tests do not have.
            "DVC_NO_ANALYTICS": "1",
        }
        self.output = ""  # what the last command run printed, stdout then stderr

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        result = self.call(*args, cwd=cwd)
        if check:
            assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        self.output = result.stdout + result.stderr
        return self.output

    def call(
        self, *args: str, cwd: Path | None = None, timeout: float = 1800
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            args, cwd=cwd or self.path, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    def start(self, *args: str, log: Path) -> subprocess.Popen:
        """Starts a command in a session of its own, its output going to `log`."""
        with log.open("w") as out:
            return subprocess.Popen(
                args, cwd=self.path, env=self.env, start_new_session=True,
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_for(self, pattern: str, process: subprocess.Popen, timeout: float = 600) -> None:
        """Waits until a file matching `pattern` (a glob under the clone) appears: a mark a
        stage itself leaves, so no machine is too fast for what the test does next.

        Fails if `process` ends first."""
        deadline = time.monotonic() + timeout
        while not list(self.path.glob(pattern)):
            assert process.poll() is None and time.monotonic() < deadline, f"no {pattern} to see"
            time.sleep(0.002)

    def kill_repro_when(self, pattern: str, timeout: float = 600) -> None:
        """Runs `dvc repro` and kills it, its stages and all (SIGKILL to its process group),
        as soon as a file matching `pattern` appears (`wait_for`).

        Fails if the run ends first: then there was nothing to kill."""
        repro = self.start("dvc", "repro", log=Path(os.devnull))
        self.wait_for(pattern, repro, timeout)
        os.killpg(repro.pid, signal.SIGKILL)
        repro.wait()

    def output_json(self, *args: str) -> object:
        """A command's JSON on stdout (DVC's warnings go to stderr)."""
        result = self.call(*args)
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return json.loads(result.stdout)

    def stages_run(self, *args: str) -> list[str]:
        """Runs a command; returns the stages it ran, in order, from their run records."""
        before = self.records.stat().st_size if self.records.exists() else 0
        self.run(*args)
        with self.records.open() if self.records.exists() else open(os.devnull) as file:
            file.seek(before)
            return [json.loads(line)["stage"] for line in file]

    def read(self, name: str) -> str:
        return (self.path / name).read_text()

    def json(self, name: str) -> dict:
        return json.loads(self.read(name))

    def changed_stages(self) -> set[str]:
        """The stages `dvc status --json` says would run."""
        return set(self.output_json("dvc", "status", "--json"))

    def lock_hashes(self) -> dict[str, str]:
        """Every output's hash as dvc.lock records it, but the blessing's.

        The blessing records the baseline it was decided against, the model serving at the
        time, which is state from earlier runs by design (docs/serving.md).
        """
        lock = yaml.safe_load(self.read("dvc.lock"))
        return {
            out["path"]: out["md5"]
            for stage in lock["stages"].values()
            for out in stage.get("outs", [])
            if out["path"] != BLESSING
        }

    def serving(self) -> dict[str, bytes]:
        """Every file of the serving folder, by path: to check it is left byte for byte."""
        base = self.path / PATHS["serving"]
        if not base.exists():
            return {}
        return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}

    def processed(self) -> dict[str, bytes]:
        """Preprocess's output folder, file by file."""
        folder = self.path / PATHS["processed"]
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}

    def versions(self) -> list[str]:
        """The serving folder's versions, as a model server sees them: numbered folders."""
        base = self.path / PATHS["serving"]
        return sorted((p.name for p in base.iterdir() if p.name.isdigit()), key=int)

    def blessing(self) -> dict:
        return self.json(BLESSING)

    def set_param(self, dotted: str, value) -> None:
        params = yaml.safe_load(self.read("params.yaml"))
        section, key = dotted.split(".")
        params[section][key] = value
        (self.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    def _experiments(self) -> Iterator[tuple[str, dict]]:
        """(name, rev) of each experiment `dvc exp show --json` lists."""
        for baseline in self.output_json("dvc", "exp", "show", "--json"):
            for exp in baseline.get("experiments") or []:
                for rev in exp["revs"]:
                    yield exp["name"], rev

    def experiments(self) -> dict[str, dict]:
        """Each experiment's data (params, metrics, deps, outs), by name."""
        return {name: rev["data"] for name, rev in self._experiments()}

    def experiment_states(self) -> dict[str, str]:
        """Each experiment's state by name, from `dvc exp show --json`: "queued", "running",
        "failed", or "success" for a finished one, which has no executor left."""
        return _states(self.output_json("dvc", "exp", "show", "--json"))

    def run_queue(self, jobs: int, timeout: float = 900) -> dict[str, str]:
        """Starts the queue's workers, waits for them to end, and returns what DVC says of
        each experiment then.

        DVC's workers keep the output of the `dvc queue start` that spawned them open until
        they exit, so its output goes to a file: on a pipe, the start would wait for the whole
        queue, past this deadline. The wait watches the processes in the clone (each worker,
        the `dvc queue start` fork that spawned it, the experiments' runs) rather than asking
        DVC while they work: `dvc exp show` takes the experiments' locks the workers take
        too, and can hang on them (treeverse/dvc#8762). A worker ends 10 s after the queue is
        empty. Workers still running at the deadline fail the test with what DVC and its
        workers say, and every process in the clone is killed, so no later test meets them.

        Returns:
            Each experiment's state by name (`experiment_states`).
        """
        log = self.path.with_name(f"{self.path.name}-queue.log")  # outside the clone
        with log.open("a") as out:
            started = subprocess.run(
                ["dvc", "queue", "start", "-j", str(jobs)], cwd=self.path, env=self.env,
                stdout=out, stderr=subprocess.STDOUT, timeout=120,
            )  # fmt: skip
        assert started.returncode == 0, log.read_text()
        deadline = time.monotonic() + timeout
        while self._processes_in_clone():  # the workers, their spawners, their runs
            if time.monotonic() > deadline:
                story = self._queue_story()
                self._kill_processes_in_clone()
                pytest.fail(f"the queue's workers still run after {timeout:.0f} s:\n{story}")
            time.sleep(2)
        shown = self.call("dvc", "exp", "show", "--json", timeout=300)
        assert shown.returncode == 0, shown.stderr
        return _states(json.loads(shown.stdout))

    def _queue_story(self) -> str:
        """What DVC says of a stuck queue: the experiments, the queue's status, the processes
        in the clone, the ends of the workers' logs."""
        parts = []
        for command in (("dvc", "exp", "show", "--json"), ("dvc", "queue", "status")):
            try:
                told = self.call(*command, timeout=120)
                parts.append(f"$ {' '.join(command)}\n{told.stdout}{told.stderr}")
            except subprocess.TimeoutExpired:
                parts.append(f"$ {' '.join(command)}\n(no answer in 120 s)")
        for pid in self._processes_in_clone():
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                parts.append(f"process {pid}: {command[:300]}")
        celery = self.path / ".dvc" / "tmp" / "exps" / "celery"
        for worker_log in sorted(celery.glob("*.out")):
            tail = worker_log.read_text(errors="replace").splitlines()[-40:]
            parts.append(f"--- {worker_log.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def _processes_in_clone(self) -> list[int]:
        """The processes working in this clone (DVC's queue workers and their runs)."""
        pids = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and (proc / "cwd").resolve(strict=True).is_relative_to(
                    self.path
                ):
                    pids.append(int(proc.name))
            except OSError:
                continue  # ended meanwhile, or not ours to read
        return pids

    def _kill_processes_in_clone(self) -> None:
        for pid in self._processes_in_clone():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def experiment_revs(self) -> dict[str, str]:
        """Each experiment's commit, by name."""
        return {name: rev["rev"] for name, rev in self._experiments()}

    def json_at(self, rev: str, name: str) -> dict:
        """A JSON file as commit `rev` holds it."""
        return self.output_json("git", "show", f"{rev}:{name}")

    def cached(self, md5: str) -> Path:
        """A file in DVC's cache, by the hash dvc.lock and `dvc exp show` give."""
        return self.path / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]

    def experiment_metrics(self) -> dict[str, dict]:
        """Each experiment's evaluate metrics, by name."""
        return {name: data["metrics"][METRICS]["data"] for name, data in self.experiments().items()}


def _states(shown: list[dict]) -> dict[str, str]:
    """Each experiment's state by name in `dvc exp show --json`'s output."""
    return {
        exp["name"]: (exp.get("executor") or {}).get("state", "success")
        for baseline in shown
        for exp in baseline.get("experiments") or []
    }


def recipe(page: str, name: str) -> str:
    """The code of a recipe a page marks for its test with <!-- recipe:<name> --> comments:
    the lines of its fenced block, to run as a user would paste them."""
    text = (ROOT / page).read_text()
    start, end = f"<!-- recipe:{name} -->", f"<!-- /recipe:{name} -->"
    assert start in text and end in text, f"{page} no longer marks its {name} recipe"
    block = text[text.index(start) + len(start) : text.index(end)].strip()
    assert block.startswith("```bash\n") and block.endswith("```"), block
    return block.removeprefix("```bash\n").removesuffix("```")


def new_project(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Project:
    """A clone of the work tree as committed and not yet run, in a git repository of its own."""
    return _cloned(tmp_path_factory.mktemp("clone"), mirror_dir)


def _cloned(path: Path, mirror_dir: Path) -> Project:
    copy_work_tree(path)
    project = Project(path, mirror_dir)
    project.run("git", "init", "-q", "-b", "main")
    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "clone")
    return project


def frozen_project(
    factory: pytest.TempPathFactory, mirror_dir: Path, name: str, build: Callable[[Project], None]
) -> Path:
    """The folder of a baseline project built once in this test run, however many tests and
    pytest-xdist workers ask: a clone (`new_project`), then `build(project)`, which may leave
    notes for the tests beside the clone (in its parent folder).

    Tests never work in it: each takes a copy (`copies`).
    """

    def make(folder: Path) -> None:
        build(_cloned(folder / "clone", mirror_dir))

    return built_once(factory, f"project-{name}", make) / "clone"


def copies(baseline: str) -> Callable:
    """A fixture that gives each test a copy of the `frozen_project` the session fixture
    named `baseline` returns, deleted after the test unless it failed: git's and DVC's files,
    the cache and the workspace, but DVC's temp folder (locks, the experiments' queue), the
    run's own."""

    @pytest.fixture
    def copy(
        tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path, request: pytest.FixtureRequest
    ) -> Iterator[Project]:
        frozen = request.getfixturevalue(baseline)

        def not_dvc_tmp(folder: str, names: list[str]) -> set[str]:
            return {"tmp"} if Path(folder) == frozen / ".dvc" else set()

        path = tmp_path_factory.mktemp("clone")
        shutil.copytree(frozen, path, symlinks=True, dirs_exist_ok=True, ignore=not_dvc_tmp)
        yield Project(path, mirror_dir)
        # A failed test's copy stays, its logs/ and DVC's worker logs the evidence its lines name.
        if not hasattr(request.node, "failed_phase"):
            shutil.rmtree(path, ignore_errors=True)

    return copy


def session_ends(session: int, timeout: float = 60) -> None:
    """Waits for every process of `session` to exit: none may run on unseen."""
    deadline = time.monotonic() + timeout
    while subprocess.run(["pgrep", "-s", str(session)], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "a process of the stopped run is still running"
        time.sleep(0.1)


def assert_lines_fit(output: str) -> None:
    """Every line a run printed fits 120 columns, but DVC's echo of a stage's command."""
    wide = [line for line in output.splitlines() if len(line) > logs.WIDTH]
    assert all(line.startswith("> ") for line in wide), "\n".join(wide)

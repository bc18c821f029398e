"""A temporary clone of the project driven through DVC, for the end-to-end tests.

Each e2e module makes its own clone (`new_project`), so the modules can run in parallel
(pytest-xdist sends each test file to one worker, its tests in file order).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "e2e",
    "GIT_AUTHOR_EMAIL": "e2e@example.com",
    "GIT_COMMITTER_NAME": "e2e",
    "GIT_COMMITTER_EMAIL": "e2e@example.com",
}
SERVING = "models/serving"
BLESSING = "reports/blessing.json"
ALL_STAGES = ["ingest", "preprocess", "train", "evaluate"]
AFTER_TRAINING = ["train", "evaluate"]


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
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            **_GIT_IDENTITY,
            "DATA_MIRROR": str(mirror),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        }

    def run(self, *args: str, cwd: Path | None = None) -> str:
        result = subprocess.run(
            args,
            cwd=cwd or self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def read(self, name: str) -> str:
        return (self.path / name).read_text()

    def lock_hashes(self) -> dict[str, str]:
        """Every output's hash as dvc.lock records it, but the blessing's.

        The blessing records the baseline it was decided against, the model serving at the
        time, which is state from earlier runs by design (README "Serving").
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
        base = self.path / SERVING
        return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}

    def versions(self) -> list[str]:
        return sorted(p.name for p in (self.path / SERVING).iterdir())

    def blessing(self) -> dict:
        return json.loads(self.read(BLESSING))

    def set_param(self, dotted: str, value) -> None:
        params = yaml.safe_load(self.read("params.yaml"))
        section, key = dotted.split(".")
        params[section][key] = value
        (self.path / "params.yaml").write_text(yaml.safe_dump(params))

    def reset(self) -> None:
        self.run("git", "checkout", "--", ".")
        self.run("dvc", "checkout", "--force")


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '(\w+)'", output)


def new_project(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Project:
    """A clone of the work tree as committed and not yet run, in a git repository of its own."""
    path = tmp_path_factory.mktemp("clone")
    copy_work_tree(path)
    project = Project(path, mirror_dir)
    project.run("git", "init", "-q", "-b", "main")
    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "clone")
    return project


def experiments(project: Project) -> dict[str, dict]:
    """Each experiment's evaluate metrics, by name, from `dvc exp show --json`."""
    shown = json.loads(project.run("dvc", "exp", "show", "--json"))
    return {
        exp["name"]: rev["data"]["metrics"]["reports/metrics.json"]["data"]
        for baseline in shown
        for exp in baseline.get("experiments") or []
        for rev in exp["revs"]
    }

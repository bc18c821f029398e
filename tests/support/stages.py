"""Running a stage's command as DVC does, and checking how it failed.

In this process by default, through the real entry point's error handling (`boundary.run`)
with only the final exit replaced: what `boundary.run` logs is what a user sees. With
`process`, the real command in a subprocess: one such case per stage checks the wiring.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import re
import resource
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from pipeline import boundary, cli
from tests.support import ROOT


class Result(NamedTuple):
    returncode: int
    stderr: str


class _Exited(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def _exit(status: int) -> None:
    raise _Exited(status)


def _in_process(stage: str, argv: list[str]) -> Result:
    module = importlib.import_module(f"components.{stage}.stage")
    stderr = io.StringIO()
    status = 0
    handlers, level = logging.root.handlers[:], logging.root.level
    with contextlib.redirect_stderr(stderr):
        try:
            boundary.run(lambda: module.main(argv), stage)
        except _Exited as exited:
            status = exited.status
        except BaseException:  # a crash: the traceback a user would see, for the checks
            status = 1
            stderr.write(traceback.format_exc())
        finally:  # boundary.run set up logging to this stderr: put pytest's back
            logging.root.handlers[:] = handlers
            logging.root.setLevel(level)
    return Result(status, stderr.getvalue())


def run_stage(
    stage: str,
    paths: cli.StagePaths,
    *,
    cwd: Path,
    env: dict | None = None,
    process: bool = False,
    file_size_limit: int | None = None,
) -> Result:
    """Runs `python -m components <stage> --params <cwd>/p.yaml <paths' flags>` in `cwd`.

    Args:
        paths: the stage's `Paths`, which make its flags.
        file_size_limit: with `process`, the largest file in bytes the stage may write
            (RLIMIT_FSIZE): a write beyond it fails as on a full disk.
    """
    argv = ["--params", str(cwd / "p.yaml"), *paths.argv()]
    if process:

        def limit() -> None:
            if file_size_limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

        done = subprocess.run(
            [sys.executable, "-m", "components", stage, *argv],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            preexec_fn=limit,
        )
        return Result(done.returncode, done.stderr)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        patch.setattr(boundary, "_exit_now", _exit)
        # The signal handlers are the process's: this one is pytest's worker.
        patch.setattr(boundary, "handle_stop_signals", lambda: None)
        return _in_process(stage, argv)


_OUR_ERROR = re.compile(r"^\d\d:\d\d:\d\d ERROR ")  # pipeline.logs's log format


def assert_fails_cleanly(result: Result, *fragments: str) -> None:
    """Exit status 1, no traceback, and exactly one error line, holding every fragment."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if _OUR_ERROR.match(line)]
    assert len(errors) == 1, result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under `path`, by relative path: to check an output is left byte for byte."""
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def temps_left(folder: Path) -> list[Path]:
    """The temp outputs under `folder` a run left: never its outputs' locks, which stay."""
    found = folder.glob("**/.*.tmp-*")
    return [
        path
        for path in found
        if not path.name.endswith(".tmp-lock")
        and not any(part.startswith(".") for part in path.relative_to(folder).parent.parts)
    ]


def evaluate_paths(processed: Path, schema_path: Path, model: Path, tmp_path: Path) -> Any:
    """evaluate's `Paths` for `model` on `processed`, its reports and serving folder in
    `tmp_path`."""
    from components.evaluate.stage import Paths  # only the tests of evaluate pay for it

    return Paths(
        data=str(processed),
        schema=str(schema_path),
        model=str(model),
        out=str(tmp_path / "reports"),
        serving=str(tmp_path / "serving"),
    )

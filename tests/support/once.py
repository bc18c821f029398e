"""Files a session fixture builds once per test run, however many pytest-xdist workers ask.

A session fixture is per worker: with two workers, each ran MNIST's ingest, preprocess and
training for its own copy. Here the first worker to ask builds under a lock, in the run's
temp folder all workers share (pytest-xdist's recipe), and the others wait and read it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder `name`, filled by `build(folder)` once in this test run.

    Args:
        factory: the session's temp path factory.
        name: the folder's name, one per kind of content.
        build: writes the content into the (new, empty) folder it is given.

    Returns:
        The folder, complete: whoever built it, it was built to the end.

    Raises:
        Exception: the build's own, or for every later caller, what it was: a build that
            failed once is not tried again in this run, each test asking fails with it.
    """
    base = factory.getbasetemp()
    # Under pytest-xdist each worker's base is a folder of the run's own; -n0 has only its own.
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / "built-once" / name
    done, failed = folder.with_name(f"{name}.done"), folder.with_name(f"{name}.failed")
    folder.parent.mkdir(exist_ok=True)
    with open(folder.with_name(f"{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released as the file closes
        if failed.exists():
            raise RuntimeError(f"building {name} failed earlier in this run:\n{failed.read_text()}")
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a killed run's build left
            folder.mkdir()
            try:
                build(folder)
            except BaseException as error:
                failed.write_text(f"{type(error).__name__}: {error}"[-20_000:])
                raise
            done.touch()
    return folder

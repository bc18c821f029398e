"""The e2e tests' baselines: each built once per test run, each test working in a copy.

A baseline is what several tests start from; building it is most of a test's time, so it
is built once (`frozen_project`) and every test takes a copy of its own, deleted after it:
no test sees another's leftovers or depends on their order. Tests of DVC's mechanics
(failures, signals, queues, tuning, pushes) start from a small folder of digits; full MNIST
is where the result is the point (accuracy, byte-identity, the mirror, README's sharing
recipe on README's run), where a test asks for MNIST's own keys (preprocess.exclude), or
where it runs nothing (dvc status, dvc plots)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from tests.support import baselines
from tests.support.project import copies, frozen_project


@pytest.fixture(scope="session")
def mnist_baseline(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    """README's first run on MNIST, committed (`baselines.mnist`): its clone's folder."""
    return frozen_project(tmp_path_factory, mirror_dir, "mnist", baselines.mnist)


mnist_project = copies("mnist_baseline")  # a copy of the MNIST baseline for one test


@pytest.fixture(scope="session")
def digits_baseline(
    tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path, mnist: dict[str, np.ndarray]
) -> Path:
    """2,500 MNIST digits as a folder, run and committed (`baselines.digits`): its clone."""
    build = functools.partial(baselines.digits, mnist=mnist)
    return frozen_project(tmp_path_factory, mirror_dir, "digits", build)


digits_project = copies("digits_baseline")  # a copy of the digits baseline for one test

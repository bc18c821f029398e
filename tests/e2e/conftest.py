"""The e2e tests' baselines: each built once per test run, each test working in a copy.

A baseline is what several tests start from (README's first run on MNIST, say); building it
is most of a test's time, so it is built once (`frozen_project`) and every test takes a copy
of its own, deleted after it: no test sees another's leftovers or depends on their order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import baselines
from tests.support.project import Project, copy_project, frozen_project


@pytest.fixture(scope="session")
def mnist_baseline(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    """README's first run on MNIST, committed (`baselines.mnist`): its clone's folder."""
    return frozen_project(tmp_path_factory, mirror_dir, "mnist", baselines.mnist)


@pytest.fixture
def mnist_project(
    tmp_path_factory: pytest.TempPathFactory, mnist_baseline: Path, mirror_dir: Path
) -> Iterator[Project]:
    """A copy of the MNIST baseline for one test."""
    yield from copy_project(tmp_path_factory, mnist_baseline, mirror_dir)

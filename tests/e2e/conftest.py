"""The e2e tests' fixtures: frozen baselines built once per session (tests.support.baselines)
and each test's own copy of one. A test changes its copy as it likes; no other test sees it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import baselines
from tests.support.project import Project, copy_baseline, frozen_baseline


@pytest.fixture(scope="session")
def mnist_baseline(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    return frozen_baseline(tmp_path_factory, "mnist", mirror_dir, baselines.mnist_run)


@pytest.fixture(scope="session")
def digits_baseline(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    return frozen_baseline(tmp_path_factory, "digits", mirror_dir, baselines.digits_run)


@pytest.fixture(scope="session")
def colour_baseline(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    return frozen_baseline(tmp_path_factory, "colour", mirror_dir, baselines.colour_run)


@pytest.fixture
def mnist_project(mnist_baseline: Path, tmp_path: Path, mirror_dir: Path) -> Project:
    """A copy of a project after `dvc repro` on all of MNIST, results uncommitted."""
    return copy_baseline(mnist_baseline, tmp_path / "baseline", mirror_dir)


@pytest.fixture
def digits_project(digits_baseline: Path, tmp_path: Path, mirror_dir: Path) -> Project:
    """A copy of a project after `dvc repro` on the digits folder, results uncommitted."""
    return copy_baseline(digits_baseline, tmp_path / "baseline", mirror_dir)


@pytest.fixture
def colour_project(colour_baseline: Path, tmp_path: Path, mirror_dir: Path) -> Project:
    """A copy of a project after docs/own-data.md's recipe on the colour folder."""
    return copy_baseline(colour_baseline, tmp_path / "baseline", mirror_dir)

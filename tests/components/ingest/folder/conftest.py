"""Fixtures of the folder side's tests: real MNIST as a small folder of PNG files."""

from pathlib import Path

import pytest

from tests.support.folders import mnist_folder


@pytest.fixture
def mnist_pngs(tmp_path_factory, mnist) -> Path:
    return mnist_folder(mnist, tmp_path_factory.mktemp("pngs"), {"train": 300, "test": 100})

"""The PostgreSQL 15 server of the tests of mnist-tune's shared study: bench.postgres's, which
lives with the bench so that the bench imports nothing from the tests. Without PostgreSQL a
test skips, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench.postgres import PASSWORD, Postgres, create_database, missing, running

__all__ = ["PASSWORD", "Postgres", "create_database", "postgres", "require"]


def require() -> None:
    if reason := missing():
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL 15 server for the session; skipped where none is installed (not in CI)."""
    require()
    with running() as server:
        yield server

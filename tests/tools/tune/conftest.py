"""Fixtures of mnist-tune's tests: the PostgreSQL server of its shared study's."""

from tests.support.postgres import postgres  # noqa: F401 (a fixture, found by its name)

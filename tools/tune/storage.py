"""Where a study lives: Optuna's SQLite file under tune/ (the default, one machine), or a
PostgreSQL database that mnist-tune processes in several clones share (`--storage URL`, or
MNIST_TUNE_STORAGE so no password sits in a git-tracked file; a URL without one lets libpq
read ~/.pgpass).

The lock installs psycopg 3, whose SQLAlchemy dialect is `postgresql+psycopg://`; SQLAlchemy
reads a bare `postgresql://` as psycopg2, which is not installed, so that URL (libpq's own
form, and `postgres://`) is read as psycopg's. Any other scheme is refused.

A shared study's running trials beat: the worker records a heartbeat for each every
HEARTBEAT seconds, and a trial whose worker has not beaten for GRACE seconds (killed, its
machine lost) is failed by the next worker that looks, its params retried once as a new
trial (Optuna's RetryHeartbeatStaleTrialCallback).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import warnings
from typing import Any

from pipeline.errors import PipelineError, shown

logger = logging.getLogger(__package__)

STORAGE_ENV = "MNIST_TUNE_STORAGE"
DRIVER = "postgresql+psycopg"
_READ_AS_PSYCOPG = ("postgresql", "postgres")  # libpq's schemes
GRACE = 60  # seconds without a heartbeat before a trial counts as its worker's death
MIN_GRACE = 3
BEATS_PER_GRACE = 6  # heartbeats a trial's worker sends in a grace period
HEARTBEAT = GRACE // BEATS_PER_GRACE  # seconds between a running trial's heartbeats
RETRIES = 1  # times a stale trial's params are run again
_CONNECT_TIMEOUT = 10  # seconds: an unreachable host is one line, not a hang
_ATTEMPTS = 5  # to open the storage while another worker makes its tables (2.5 s in all)
_REFUSED_WORDS = ("password authentication failed", "no password supplied")


@dataclasses.dataclass(frozen=True)
class Shared:
    """A study storage shared by workers: its URL (psycopg's), and how its trials beat."""

    url: str
    heartbeat: int = HEARTBEAT
    grace: int = GRACE

    @property
    def where(self) -> str:
        """The server, as messages name it (never the password): `host:port`."""
        return _where(self.url)


def shared(given: str | None, grace: int = GRACE) -> Shared | None:
    """The shared storage `--storage` (`given`) or MNIST_TUNE_STORAGE names, its trials
    stale after `grace` seconds without a heartbeat; None for the default, the SQLite file
    under tune/.

    Raises:
        PipelineError: for a URL that is not PostgreSQL's, or names a driver not installed.
    """
    url = given if given is not None else os.environ.get(STORAGE_ENV) or None
    if url is None:
        return None
    scheme, sep, rest = url.partition("://")
    beats = {"heartbeat": max(1, grace // BEATS_PER_GRACE), "grace": grace}
    if sep and scheme in _READ_AS_PSYCOPG:
        return Shared(f"{DRIVER}://{rest}", **beats)
    if sep and scheme == DRIVER:
        return Shared(url, **beats)
    raise PipelineError(
        f"mnist-tune: storage {shown(scheme + sep, 30)} is not PostgreSQL's; give "
        "postgresql://user@host/db"
    )


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parts = make_url(url)
    except (ArgumentError, ValueError):
        return "the --storage URL"
    where = f"{parts.host or 'localhost'}:{parts.port or 5432}"
    return where if len(where) <= 30 else f"{where[:27]}..."


def open_rdb(storage: Shared) -> Any:
    """Optuna's RDB storage on the shared database, its heartbeats on.

    Raises:
        PipelineError: if the database cannot be reached, refuses the credentials, or holds
            tables of another Optuna version; the database untouched.
    """
    import optuna
    from sqlalchemy.exc import DBAPIError

    with warnings.catch_warnings():
        # Heartbeats and their retry are marked experimental in Optuna: a notice, not news.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for attempt in range(_ATTEMPTS):
            try:
                return _rdb(storage)
            except DBAPIError as error:
                # Two workers making a new database's tables at once: one of them fails on
                # the other's (a duplicate alembic_version type, say), which are there once
                # the other's transaction ends.
                last = attempt == _ATTEMPTS - 1
                if not last and not isinstance(error, _unreachable_errors()):
                    logger.debug("tables made meanwhile: %s", error)
                    time.sleep(0.25 * (attempt + 1))
                    continue
                raise _unreachable(storage, error) from None
            except RuntimeError as error:  # Optuna's check of its tables' schema
                logger.debug("%s", error)
                raise PipelineError(
                    f"mnist-tune: the database at {storage.where} holds another Optuna "
                    "version's tables; use another database"
                ) from None
    raise AssertionError("unreachable")


def _unreachable_errors() -> tuple[type, ...]:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return (OperationalError, InterfaceError)


def _rdb(storage: Shared) -> Any:
    import optuna
    from sqlalchemy.pool import NullPool

    # A connection for each of the storage's few calls, closed after it: no pool to keep
    # alive across a network's blips, nor to leave open when the storage is dropped.
    engine = {"poolclass": NullPool, "connect_args": {"connect_timeout": _CONNECT_TIMEOUT}}
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=RETRIES)
    return optuna.storages.RDBStorage(
        storage.url,
        engine_kwargs=engine,
        heartbeat_interval=storage.heartbeat,
        grace_period=storage.grace,
        heartbeat_stale_trial_callback=retry,
    )


def _unreachable(storage: Shared, error: Exception) -> PipelineError:
    """The line for a database that did not let mnist-tune in. psycopg's own words, longer
    than a line and never holding the password, go to the debug log."""
    said = " ".join(str(getattr(error, "orig", None) or error).split())
    logger.debug("%s", said)
    where = storage.where
    if any(words in said for words in _REFUSED_WORDS):
        return PipelineError(
            f"mnist-tune: PostgreSQL at {where} refused the credentials; fix the user or "
            "password (the URL, or ~/.pgpass)"
        )
    if 'role "' in said and "does not exist" in said:  # under trust or peer auth
        return PipelineError(
            f"mnist-tune: PostgreSQL at {where} has no such user; fix the URL's user"
        )
    if "does not exist" in said:
        return PipelineError(
            f"mnist-tune: PostgreSQL at {where} has no such database; create it (createdb) "
            "or fix the URL"
        )
    return PipelineError(
        f"mnist-tune: no PostgreSQL answers at {where}; start it, or fix the URL's host and port"
    )

"""A PostgreSQL 15 server for mnist-tune's shared study, started for a block and gone after it:
Debian's binaries, a cluster made in a temp folder (initdb), bound to 127.0.0.1 on a free port
with its unix socket in that folder, stopped by its pid whatever happens (pg_ctl's immediate
stop, then SIGKILL). PostgreSQL refuses to run as root: as root, its commands run as the
`postgres` user. The tests' fixture (tests/support/postgres.py) and bench.tune_shared start it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.cluster import HOST, free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"
PASSWORD = "tune-secret"  # the role tests and bench connect as, in a temp cluster
_START_TIMEOUT_S = 60


@dataclasses.dataclass(frozen=True)
class Postgres:
    port: int
    role: str = "tune"

    def url(self, database: str, password: str = PASSWORD) -> str:
        return f"postgresql://{self.role}:{password}@{HOST}:{self.port}/{database}"


def _as_postgres(*command: str, **kwargs: object) -> subprocess.CompletedProcess:
    runner = [] if os.geteuid() != 0 else ["runuser", "-u", USER, "--"]
    return subprocess.run([*runner, *command], capture_output=True, text=True, check=True,
                          timeout=120, **kwargs)  # fmt: skip


def missing() -> str | None:
    """Why no server can start here, or None."""
    if not (BIN / "initdb").is_file():
        return f"no PostgreSQL 15 at {BIN}: apt-get install postgresql-15"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "no runuser, to run PostgreSQL as the postgres user"
    return None


@contextlib.contextmanager
def running() -> Iterator[Postgres]:
    """A server of a cluster made for the block, removed after it."""
    folder = Path(tempfile.mkdtemp(prefix="mnist-pg-"))
    data, socket_dir = folder / "data", folder / "socket"
    pid = None
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, USER)
        folder.chmod(0o700)
        password = folder / "password"
        password.write_text(PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(password, USER)
        socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(socket_dir, USER)
        _as_postgres(str(BIN / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
                     f"--pwfile={password}", "-E", "UTF8", "--locale=C")  # fmt: skip
        port = free_port()
        options = f"-h {HOST} -p {port} -k {socket_dir} -c fsync=off"
        log = str(folder / "server.log")
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", log,
                     "-w", "-t", str(_START_TIMEOUT_S), "start")  # fmt: skip
        pid = int((data / "postmaster.pid").read_text().split()[0])
        server = Postgres(port)
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        psql = [str(BIN / "psql"), "-h", HOST, "-p", str(port), "-U", USER, "-d", "postgres",
                "-v", "ON_ERROR_STOP=1", "-c"]  # fmt: skip
        _as_postgres(*psql, f"CREATE ROLE {server.role} LOGIN PASSWORD '{PASSWORD}' CREATEDB",
                     env=env)  # fmt: skip
        yield server
    finally:
        if pid is None and (data / "postmaster.pid").is_file():  # a start that timed out
            pid = int((data / "postmaster.pid").read_text().split()[0])
        if pid is not None:
            with contextlib.suppress(subprocess.SubprocessError):
                _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
            _kill(pid)
        shutil.rmtree(folder, ignore_errors=True)


def _kill(pid: int) -> None:
    """SIGKILL to the server if it outlived pg_ctl's stop, and a wait for it to go."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def create_database(server: Postgres, name: str) -> str:
    """A new database on `server`, its URL as users type it."""
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    _as_postgres(str(BIN / "createdb"), "-h", HOST, "-p", str(server.port), "-U", server.role,
                 name, env=env)  # fmt: skip
    return server.url(name)

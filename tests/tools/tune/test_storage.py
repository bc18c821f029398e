import logging

import pytest

from pipeline.errors import PipelineError
from tests.support.cluster import free_port
from tests.support.postgres import PASSWORD, create_database
from tools.tune import cli, storage


def test_the_default_is_the_sqlite_file_and_libpqs_urls_are_read_as_psycopgs(monkeypatch):
    monkeypatch.delenv(storage.STORAGE_ENV, raising=False)
    assert storage.shared(None) is None
    for scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        url = f"{scheme}://tune@db.example:5433/tune"
        assert storage.shared(url).url == "postgresql+psycopg://tune@db.example:5433/tune"
    monkeypatch.setenv(storage.STORAGE_ENV, "postgresql://tune@db.example/tune")
    assert storage.shared(None).url == "postgresql+psycopg://tune@db.example/tune"
    assert storage.shared(None).where == "db.example:5432"


@pytest.mark.parametrize(
    "url", ["mysql://u:pw@h/db", "postgresql+psycopg2://u:pw@h/db", "sqlite:///tune/x.db", "db"]
)
def test_a_url_of_another_database_or_driver_is_refused_in_one_line(url):
    with pytest.raises(PipelineError, match="is not PostgreSQL's; give postgresql://") as refused:
        storage.shared(url)
    assert "pw" not in str(refused.value)


def _said(monkeypatch, capsys, *argv: str) -> str:
    monkeypatch.setattr(logging.root, "handlers", [])
    from tests.support import ROOT

    monkeypatch.chdir(ROOT)  # the project's own tune.yaml; nothing is run
    assert cli.main(["--report", *argv]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert len(line) <= 120 and "Traceback" not in line, line
    return line


def test_an_unreachable_database_is_one_line(monkeypatch, capsys):
    port = free_port()  # nothing listens there
    line = _said(monkeypatch, capsys, "--storage", f"postgresql://u:{PASSWORD}@127.0.0.1:{port}/x")
    assert f"no PostgreSQL answers at 127.0.0.1:{port}; start it" in line
    assert PASSWORD not in line


def test_wrong_credentials_and_a_missing_database_are_one_line_each(postgres, monkeypatch, capsys):
    url = create_database(postgres, "credentials")
    monkeypatch.setenv(storage.STORAGE_ENV, url.replace(PASSWORD, "not-the-password"))
    line = _said(monkeypatch, capsys)
    assert f"PostgreSQL at 127.0.0.1:{postgres.port} refused the credentials" in line
    assert "not-the-password" not in line
    line = _said(monkeypatch, capsys, "--storage", postgres.url("no_such_database"))
    assert "has no such database; create it" in line
    # The right ones reach the database: there is just no study in it yet.
    line = _said(monkeypatch, capsys, "--storage", url)
    assert "no study 'mlp' at 127.0.0.1" in line and "run mnist-tune --trials N first" in line


def test_a_grace_too_short_for_a_heartbeat_is_refused(monkeypatch, capsys):
    line = _said(monkeypatch, capsys, "--grace", "2")
    assert f"mnist-tune: --grace must be at least {storage.MIN_GRACE} seconds" in line
    assert storage.shared("postgresql://h/db", grace=storage.MIN_GRACE).heartbeat == 1
    assert storage.shared("postgresql://h/db").heartbeat == storage.HEARTBEAT < storage.GRACE


def test_a_user_the_server_does_not_know_is_named_as_such_not_as_a_missing_database():
    # What PostgreSQL answers under trust or peer auth (a scram server says password failed).
    given = storage.Shared("postgresql+psycopg://nobody@127.0.0.1:5432/db", heartbeat=1, grace=6)
    refusals = {
        'FATAL:  role "nobody" does not exist': "has no such user; fix the URL's user",
        'FATAL:  database "db" does not exist': "has no such database; create it",
    }
    for said, line in refusals.items():
        assert line in str(storage._unreachable(given, Exception(said)))

import errno
import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from pipeline import cli
from tests.support import ROOT

NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1.0 1 port.cc:153] oneDNN custom operations are on. You may see ...\n"
)


def test_start_up_noise_is_held_back_and_the_rest_kept(capfd):
    with cli.quiet_native_startup():
        os.write(2, (NOISE + "a line that matters\n").encode())  # as C++ code writes it
        print("from Python", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a line that matters" in err and "from Python" in err
    assert "oneDNN" not in err and "absl::InitializeLog" not in err


def test_a_failed_import_shows_everything(capfd):
    with pytest.raises(ImportError), cli.quiet_native_startup():
        os.write(2, NOISE.encode())
        raise ImportError("libsomething.so: cannot open shared object file")
    assert "oneDNN custom operations" in capfd.readouterr().err


def test_importing_project_modules_changes_no_process_wide_state():
    script = textwrap.dedent("""
        import logging, os, pkgutil, sys
        import PIL.Image
        def state():
            ours = ("apache_beam", "pipeline", "components")
            loggers = {n: l.level for n, l in logging.root.manager.loggerDict.items()
                       if isinstance(l, logging.Logger) and n.startswith(ours) and l.level}
            return (dict(os.environ), logging.root.filters[:], logging.root.handlers[:],
                    logging.root.level, PIL.Image.MAX_IMAGE_PIXELS, loggers)
        import apache_beam, tensorflow, keras  # their own import-time state is theirs
        before = state()
        import components, pipeline
        for package in ("components", "pipeline"):
            for module in pkgutil.iter_modules(__import__(package).__path__):
                if module.name != "__main__":
                    __import__(f"{package}.{module.name}")
        after = state()
        for a, b, what in zip(before, after, ("environ", "root filters", "root handlers",
                                              "root level", "Pillow limit", "log levels")):
            assert a == b, what
        print("unchanged")
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("unchanged")


def test_stage_appends_its_run_record_where_the_environment_says(tmp_path, monkeypatch):
    path = tmp_path / "record.jsonl"
    monkeypatch.setenv(cli.RECORD_ENV, str(path))
    for rate in (1.5, 2.5):
        with cli.stage("x") as record:
            record["things_per_s"] = rate
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["stage"], r["things_per_s"]) for r in records] == [("x", 1.5), ("x", 2.5)]
    assert all(r["seconds"] >= 0 for r in records)


class _Exited(Exception):
    pass


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device", "out/x.tfrecord"),
        RuntimeError("a worker failed: [Errno 122] Disk quota exceeded"),  # as Beam words it
    ],
)
def test_a_full_disk_anywhere_in_a_stage_is_one_line(monkeypatch, capsys, error):
    def main() -> None:
        try:
            raise error
        except Exception as raised:
            raise ValueError("wrapped by a library") from raised

    monkeypatch.setattr(cli, "_exit_now", lambda status: (_ for _ in ()).throw(_Exited(status)))
    monkeypatch.setattr(logging.root, "handlers", [])  # cli.run sets up its own
    with pytest.raises(_Exited) as exited:
        cli.run(main)
    assert exited.value.args == (1,)
    [line] = [line for line in capsys.readouterr().err.splitlines() if " ERROR " in line]
    assert "ERROR pipeline: no room to write the output" in line
    assert "free some disk space" in line and "Traceback" not in line


def test_any_other_error_is_not_mistaken_for_a_full_disk(monkeypatch):
    monkeypatch.setattr(cli, "_exit_now", lambda status: None)
    monkeypatch.setattr(logging.root, "handlers", [])
    with pytest.raises(OSError, match="Permission denied"):
        cli.run(lambda: (_ for _ in ()).throw(OSError(errno.EACCES, "Permission denied")))

import errno
import logging
import signal
import subprocess
import sys
import textwrap

import pytest

from pipeline import boundary
from pipeline.signals import Interrupted
from tests.support import ROOT
from tests.support.evidence import assert_story_in_named_log, fail_with_evidence


def test_importing_project_modules_changes_no_process_wide_state():
    script = textwrap.dedent("""
        import logging, os, pkgutil, sys
        import PIL.Image
        def state():
            ours = ("apache_beam", "pipeline", "components", "tools")
            loggers = {n: l.level for n, l in logging.root.manager.loggerDict.items()
                       if isinstance(l, logging.Logger) and n.startswith(ours) and l.level}
            return (dict(os.environ), logging.root.filters[:], logging.root.handlers[:],
                    logging.root.level, PIL.Image.MAX_IMAGE_PIXELS, loggers)
        import apache_beam, tensorflow, keras  # their own import-time state is theirs
        before = state()
        for package in ("components", "pipeline", "tools"):
            found = pkgutil.walk_packages(__import__(package).__path__, f"{package}.")
            for module in found:
                if not module.name.endswith("__main__"):
                    __import__(module.name)
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


class _Exited(Exception):
    pass


@pytest.fixture(autouse=True)
def _keep_pytests_signal_handlers(monkeypatch):
    monkeypatch.setattr(boundary, "handle_stop_signals", lambda: None)


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

    monkeypatch.setattr(
        boundary, "_exit_now", lambda status: (_ for _ in ()).throw(_Exited(status))
    )
    monkeypatch.setattr(logging.root, "handlers", [])  # boundary.run sets up its own
    with pytest.raises(_Exited) as exited:
        boundary.run(main, "x")
    assert exited.value.args == (1,)
    [line] = [line for line in capsys.readouterr().err.splitlines() if " ERROR " in line]
    assert "ERROR pipeline: no room to write the output" in line
    assert "free some disk space" in line and "Traceback" not in line


def test_any_other_error_is_not_mistaken_for_the_environments(monkeypatch):
    monkeypatch.setattr(boundary, "_exit_now", lambda status: None)
    monkeypatch.setattr(logging.root, "handlers", [])
    with pytest.raises(OSError, match="Connection refused"):
        boundary.run(
            lambda: (_ for _ in ()).throw(OSError(errno.ECONNREFUSED, "Connection refused")), "x"
        )


def test_the_whole_story_of_a_one_line_error_goes_to_the_stages_log(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # the user's project, as DVC says it
    monkeypatch.setattr(
        boundary, "_exit_now", lambda status: (_ for _ in ()).throw(_Exited(status))
    )
    monkeypatch.setattr(logging.root, "handlers", [])
    with pytest.raises(_Exited):
        boundary.run(fail_with_evidence, "x")
    [line] = [line for line in capsys.readouterr().err.splitlines() if " ERROR " in line]
    assert_story_in_named_log(line, tmp_path, "x")


def test_a_tool_gets_its_status_its_line_and_its_log(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    said_by = logging.getLogger("tools.x")
    assert boundary.guarded(lambda: 3, "mnist-x", said_by=said_by, interrupted=None) == 3
    assert boundary.guarded(lambda: None, "mnist-x", said_by=said_by, interrupted=None) == 0
    status = boundary.guarded(fail_with_evidence, "mnist-x", said_by=said_by, interrupted=None)
    assert status == 1
    [record] = caplog.records
    assert record.name == "tools.x" and record.levelno == logging.ERROR
    assert_story_in_named_log(record.getMessage(), tmp_path, "mnist-x")


def _stopped(signum: int) -> None:
    raise Interrupted(signum)


def test_a_stop_is_its_line_or_none_and_the_shells_status(caplog):
    said_by = logging.getLogger("tools.x")
    said = boundary.guarded(lambda: _stopped(signal.SIGTERM), "x", interrupted="stopped; kept")
    assert said == 128 + signal.SIGTERM and [r.getMessage() for r in caplog.records] == [
        "stopped; kept"
    ]
    caplog.clear()
    quiet = boundary.guarded(
        lambda: _stopped(signal.SIGINT), "x", said_by=said_by, interrupted=None
    )
    assert quiet == 130 and caplog.records == []


def test_only_a_stage_words_a_full_disk_as_its_own():
    # The line says the stage's previous output is untouched: only a stage knows it is.
    full = OSError(errno.ENOSPC, "No space left on device", "x")
    with pytest.raises(OSError):
        boundary.guarded(lambda: (_ for _ in ()).throw(full), "x", interrupted=None)


def test_a_console_script_exits_with_its_status_and_ends_quietly_on_a_closed_pipe():
    script = textwrap.dedent("""
        from pipeline import boundary
        def main():
            for _ in range(100_000):
                print("a line a reader stopped reading")
            return 3
        boundary.console(main)
    """)
    shown = subprocess.run(
        f"{sys.executable} -c '{script}' | head -1", shell=True, cwd=ROOT, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert shown.stdout == "a line a reader stopped reading\n" and shown.stderr == ""
    whole = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=120
    )
    assert whole.returncode == 3

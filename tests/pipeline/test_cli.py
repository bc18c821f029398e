import dataclasses
import errno
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline import artifacts, cli
from pipeline.errors import PipelineError
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


@pytest.fixture(autouse=True)
def _keep_pytests_signal_handlers(monkeypatch):
    monkeypatch.setattr(cli, "handle_stop_signals", lambda: None)


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
        cli.run(main, "x")
    assert exited.value.args == (1,)
    [line] = [line for line in capsys.readouterr().err.splitlines() if " ERROR " in line]
    assert "ERROR pipeline: no room to write the output" in line
    assert "free some disk space" in line and "Traceback" not in line


def test_any_other_error_is_not_mistaken_for_the_environments(monkeypatch):
    monkeypatch.setattr(cli, "_exit_now", lambda status: None)
    monkeypatch.setattr(logging.root, "handlers", [])
    with pytest.raises(OSError, match="Connection refused"):
        cli.run(
            lambda: (_ for _ in ()).throw(OSError(errno.ECONNREFUSED, "Connection refused")), "x"
        )


def test_the_whole_story_of_a_one_line_error_goes_to_the_stages_log(monkeypatch, capsys, tmp_path):
    def main() -> None:
        raise PipelineError("x: it failed", evidence="Traceback ...\n  the worker's own\n")

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.setattr(cli, "_exit_now", lambda status: (_ for _ in ()).throw(_Exited(status)))
    monkeypatch.setattr(logging.root, "handlers", [])
    with pytest.raises(_Exited):
        cli.run(main, "x")
    log = Path(artifacts.LOGS_DIR) / "x.log"
    [line] = [line for line in capsys.readouterr().err.splitlines() if " ERROR " in line]
    assert line.endswith(f"x: it failed; all of it is in {log}")
    assert (tmp_path / log).read_text() == "Traceback ...\n  the worker's own\n"


@dataclasses.dataclass(frozen=True)
class _Paths(cli.StagePaths):
    data: str = cli.flag("input folder")
    out: str = cli.flag("output folder")


def test_a_stages_paths_parse_its_command_line_and_build_it_again(tmp_path):
    text = (ROOT / "params.yaml").read_text().replace("batch_size: 200", "batch_size: 123")
    (tmp_path / "p.yaml").write_text(text)
    argv = ["--params", str(tmp_path / "p.yaml"), *_Paths("in dir", "out").argv()]
    assert argv[2:] == ["--data", "in dir", "--out", "out"]
    paths, params = cli.arguments(_Paths, argv, "a stage")
    assert paths == _Paths("in dir", "out")
    assert params.train.batch_size == 123  # the file --params names, read and typed


def test_a_missing_path_flag_is_argparses_own_error(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.arguments(_Paths, ["--data", "x"], "a stage")
    assert exited.value.code == 2
    assert "the following arguments are required: --out" in capsys.readouterr().err


def test_a_log_line_leaves_a_one_line_error_its_room(monkeypatch, capsys):
    from pipeline.errors import LINE_ROOM

    assert cli.message_room(logging.getLogger("pipeline"), logging.ERROR) == LINE_ROOM
    monkeypatch.setattr(logging.root, "handlers", [])
    cli.setup_logging()
    logging.getLogger("components.train").info("epoch 1/5")
    [line] = capsys.readouterr().err.splitlines()
    # The time of day and the stage's own name: 21 characters where there were 48.
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO train: epoch 1/5", line), line

import logging
import subprocess
import sys

from tests.support import ROOT
from tests.support.evidence import assert_story_in_named_log, fail_with_evidence
from tests.support.fuzz import ALIAS_BOMB
from tools.tune import cli


def test_a_report_of_a_study_never_run_says_so_and_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tune.yaml").write_text((ROOT / "tune.yaml").read_text())
    monkeypatch.setattr(logging.root, "handlers", [])
    assert cli.main(["--report"]) == 1
    assert "no study 'mlp' yet; run mnist-tune --trials N first" in capsys.readouterr().err
    assert not (tmp_path / "tune").exists()


def test_a_hostile_space_file_is_one_line_even_for_the_report(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tune.yaml").write_text(ALIAS_BOMB)
    monkeypatch.setattr(logging.root, "handlers", [])
    assert cli.main(["--report"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert "tune.yaml expands to more than 10000 values" in line


def test_no_arguments_is_a_usage_error_not_a_twenty_trial_study(capsys):
    import pytest

    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 2
    assert "one of the arguments --trials --report is required" in capsys.readouterr().err


def test_a_second_mnist_tune_in_the_project_refuses_at_once_while_one_runs(
    tmp_path, monkeypatch, capsys
):
    # Each run removes the experiments killed trials left, and another run's trial in
    # preparation looks like one: the second run must not start. The first is played by a
    # process holding the study's lock, as a running mnist-tune does.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tune.yaml").write_text((ROOT / "tune.yaml").read_text())
    (tmp_path / "tune").mkdir()
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path / "tune" / "studies.db")],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as holder:  # fmt: skip
        try:
            assert holder.stdout.readline() == "held\n"
            monkeypatch.setattr(logging.root, "handlers", [])
            assert cli.main(["--trials", "1"]) == 1
            [line] = capsys.readouterr().err.splitlines()
            assert "another run is writing" in line and "studies.db" in line, line
            assert not (tmp_path / "tune" / "studies.db").exists()  # no study touched
        finally:
            holder.kill()


_HOLD = """
import sys
from pathlib import Path
from pipeline import outputs
with outputs.exclusive_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_failure_keeps_its_whole_story_in_mnist_tunes_log(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.setattr(cli, "load_space", fail_with_evidence)
    assert cli.main(["--report"]) == 1
    [record] = caplog.records
    assert_story_in_named_log(record.getMessage(), tmp_path, "mnist-tune")

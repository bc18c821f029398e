import logging

from tests.support import ROOT
from tools.tune import cli


def test_a_report_of_a_study_never_run_says_so_and_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tune.yaml").write_text((ROOT / "tune.yaml").read_text())
    monkeypatch.setattr(logging.root, "handlers", [])
    assert cli.main(["--report"]) == 1
    assert "no study 'mlp' yet; run mnist-tune --trials N first" in capsys.readouterr().err
    assert not (tmp_path / "tune").exists()

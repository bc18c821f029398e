import dataclasses
from typing import ClassVar

import pytest

from pipeline import artifacts, cli
from tests.support import ROOT


@dataclasses.dataclass(frozen=True)
class _Paths(cli.StagePaths):
    stage: ClassVar[str] = "x"

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


def test_a_stages_report_is_in_the_users_project_and_no_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # as DVC sets it, in its copies too
    paths = _Paths("in", "out")
    assert paths.anomalies == tmp_path / artifacts.ANOMALIES_DIR / "x.json"
    assert "--anomalies" not in paths.argv()

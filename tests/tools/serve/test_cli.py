import socket
import subprocess
import sys

from tests.support import ROOT
from tools.serve import cli


def test_a_missing_base_folder_is_one_line_with_the_fix(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tools.serve.cli", "--model_base_path", str(tmp_path / "none")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.endswith("/none: no such folder; `dvc repro` pushes one")
    assert len(line) <= 120


def test_a_port_in_use_is_one_line(small_serving_dir, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = cli.main(
            ["--model_base_path", str(small_serving_dir), "--rest_api_port", str(port)]
        )
    assert status == 1
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in caplog.text


def test_a_model_name_that_cannot_be_in_a_url_is_refused(small_serving_dir, caplog):
    assert cli.main(["--model_base_path", str(small_serving_dir), "--model_name", "a/b"]) == 1
    assert "--model_name 'a/b': a name without '/' or ':'" in caplog.text

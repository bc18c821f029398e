import subprocess
from pathlib import Path

from pipeline import artifacts, workspace
from tests.support import ROOT


def test_shared_state_is_in_the_users_project_also_from_dvcs_copy(tmp_path, monkeypatch):
    # `dvc exp run --temp` and the queue run a copy DVC deletes; DVC_ROOT is the project.
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert workspace.workspace_path("models/serving") == tmp_path / "models" / "serving"
    assert workspace.workspace_path("/elsewhere/serving") == Path("/elsewhere/serving")
    assert (
        workspace.anomalies_report("ingest") == tmp_path / artifacts.ANOMALIES_DIR / "ingest.json"
    )
    assert workspace.log_file("mnist-push") == tmp_path / artifacts.LOGS_DIR / "mnist-push.log"


def test_outside_dvc_the_project_is_the_working_folder(monkeypatch):
    monkeypatch.delenv("DVC_ROOT", raising=False)
    assert workspace.anomalies_report("train") == Path(artifacts.ANOMALIES_DIR) / "train.json"


def test_git_ignores_what_runs_leave_for_the_user():
    # `git add -A` after a failed run, or a queued experiment's commit, must not carry them.
    for folder in (artifacts.ANOMALIES_DIR, artifacts.LOGS_DIR):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", f"{folder}/train.log"], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, f"git does not ignore {folder}/"

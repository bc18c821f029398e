import json
import os
import subprocess
import sys

from tests.support import ROOT
from tests.support.evidence import assert_story_in_named_log, fail_with_evidence
from tools import compare


def _rev(rev: str, params: dict, metrics: dict | None) -> dict:
    return {"rev": rev, "data": {"params": {"params.yaml": {"data": params}}, "metrics": metrics}}


def _metrics(val: float, test: float, blessed: bool) -> dict:
    score = {"accuracy": 0.0, "loss": 1.0}
    return {
        compare.FILES["live"]: {"data": {"train": score, "val": {"accuracy": val, "loss": 0.1}}},
        compare.FILES["test"]: {
            "data": {"test": {"accuracy": test, "loss": 0.1}, "blessed": blessed}
        },
    }


def _shown() -> list[dict]:
    """What `dvc exp show --json` gives: a baseline, and its experiments' revisions."""
    base = {"train": {"epochs": 5, "seed": 42}, "preprocess": {"seed": 42}}
    baseline = _rev("workspace", base, _metrics(0.97, 0.975, True))
    worse = _rev(
        "a" * 40, {**base, "train": {"epochs": 1, "seed": 42}}, _metrics(0.90, 0.91, False)
    )
    better = _rev(
        "b" * 40, {**base, "train": {"epochs": 9, "seed": 42}}, _metrics(0.98, 0.981, True)
    )
    queued = _rev("c" * 40, {**base, "train": {"epochs": 3, "seed": 42}}, None)
    runs = {"exp-a": worse, "exp-b": better, "exp-c": queued}
    baseline["experiments"] = [{"name": name, "revs": [rev]} for name, rev in runs.items()]
    baseline["experiments"][2]["executor"] = {"state": "queued", "name": "dvc-task"}
    return [baseline]


def test_experiments_sort_by_validation_and_show_only_the_params_that_differ():
    lines = compare.render(compare.rows(_shown())).splitlines()
    assert lines[0].split() == ["experiment", "val", "acc", "test", "acc", "blessed", "epochs"]
    assert [line.split()[0] for line in lines[1:]] == ["workspace", "exp-b", "exp-a", "exp-c"]
    assert lines[2].split() == ["exp-b", "0.9800", "0.9810", "True", "9"]
    assert lines[4].split() == ["exp-c", "(queued)", "-", "-", "-", "3"]  # not run yet


def test_an_experiment_without_a_result_shows_its_state_not_the_baselines_metrics():
    # A running queued experiment can list its baseline's metrics files as its own.
    shown = _shown()
    running = shown[0]["experiments"][0]  # exp-a, its metrics files there
    running["executor"] = {"state": "running", "name": "dvc-task"}
    shown[0]["experiments"][1]["executor"] = {"state": "success", "name": "dvc-task"}
    rows = {row["name"]: row for row in compare.rows(shown)}
    assert (rows["exp-a (running)"]["val"], rows["exp-a (running)"]["test"]) == (None, None)
    assert rows["exp-b"]["val"] == 0.98  # a queued experiment that succeeded: its result


def test_a_metrics_file_of_another_layout_is_named_not_shown_as_missing(capsys):
    shown = _shown()
    live = shown[0]["data"]["metrics"][compare.FILES["live"]]["data"]
    live["validation"] = live.pop("val")  # a renamed key
    rows = compare.rows(shown)
    assert rows[0]["val"] is None
    assert f"mnist-compare: workspace: {compare.FILES['live']} is not what the pipeline writes" in (
        capsys.readouterr().err
    )


def test_help_is_the_commands_own():
    result = subprocess.run(
        [sys.executable, "-m", "tools.compare", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.startswith("usage: mnist-compare")
    assert "dvc exp show" in result.stdout


def test_a_failed_sweep_on_an_untracked_folder_says_why_and_names_escape(tmp_path):
    # An experiment named in any script reaches an ASCII-only terminal escaped; below a
    # failed one, the likeliest reason: a folder no experiment's copy of the project holds.
    params = (ROOT / "params.yaml").read_text().replace("dataset: mnist", "dataset: folder")
    (tmp_path / "params.yaml").write_text(params.replace("data/no-folder", "data/images"))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    failed = {**_rev("c" * 40, {"train": {"epochs": 2}}, None), "name": "café-2"}
    shown = [{**_rev("workspace", {"train": {"epochs": 1}}, None), "experiments": [
        {"name": "café-2", "revs": [failed], "executor": {"state": "failed"}}
    ]}]  # fmt: skip
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dvc").write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(shown)}\nEOF\n")
    (bin_dir / "dvc").chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-c", "from tools.compare import console; console()"],
        cwd=tmp_path,
        capture_output=True,
        env={
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "PYTHONIOENCODING": "ascii",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "caf\\xe9-2 (failed)" in result.stdout.decode("ascii")
    [said] = result.stderr.decode().splitlines()
    assert said.startswith("mnist-compare: no experiment sees data.folder 'data/images'")


def test_a_failure_keeps_its_whole_story_in_mnist_compares_log(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.setattr(compare, "_compare", fail_with_evidence)
    assert compare.main([]) == 1
    [record] = caplog.records
    assert_story_in_named_log(record.getMessage(), tmp_path, "mnist-compare")

"""The whole pipeline through DVC: README's first run on the real MNIST mirror and what users
do next, each test in its own copy of a baseline (tests/e2e/conftest.py): that run's project
where the result is the point, a small folder of digits where DVC's mechanics are (tuning,
queues, an unblessed experiment).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from PIL import Image

from components import STAGES
from pipeline import artifacts
from tests.support import cluster
from tests.support.baselines import DIGITS_MIN_ACCURACY, FIRST_RUN
from tests.support.dvc_yaml import code_of
from tests.support.project import (
    ALL_STAGES,
    METRICS,
    PATHS,
    Project,
    assert_lines_fit,
    recipe,
    session_ends,
)
from tools.tune.study import TrialNotes

pytestmark = pytest.mark.e2e

DATA_OUTPUTS = (PATHS["raw"], PATHS["processed"], PATHS["model"])
LIVE_METRICS = artifacts.LIVE_SUMMARY_PATH
# What `dvc metrics show` lists: each headline value once.
HEADLINE_METRICS = {
    LIVE_METRICS: {"train.accuracy", "train.loss", "val.accuracy", "val.loss"},
    METRICS: {"test.accuracy", "test.loss", "blessed"},
}
PICTURES = {
    f"{PATHS['reports']}/{name}"
    for name in (artifacts.MISCLASSIFIED_FILE, *artifacts.LABEL_PLOT_FILES.values())
}
PLOTS = {"loss", "accuracy", "confusion", "errors", *PICTURES}


@pytest.fixture
def project(mnist_project: Project) -> Project:
    return mnist_project


@pytest.fixture
def new_user(digits_project: Project) -> Project:
    """As every new user has it: the first run's results, dvc.lock among them, not committed
    (on the small folder of digits, tracked and committed: what is tested is DVC's mechanics)."""
    project = digits_project
    project.run("git", "reset", "-q", "HEAD~1")
    assert "dvc.lock" in project.run("git", "status", "--porcelain")
    return project


def _flatten(tree: dict, prefix: str = "") -> set[str]:
    return set().union(
        *(
            _flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
            for key, value in tree.items()
        )
    )


def test_repro_builds_everything_then_nothing(project: Project, mnist_baseline: Path):
    first_run = json.loads((mnist_baseline.parent / FIRST_RUN).read_text())
    assert first_run["stages"] == ALL_STAGES
    assert_lines_fit(first_run["output"])  # epoch lines, the verdict: once 135 and 157 columns
    metrics = project.json(METRICS)
    # The bar for the reference MLP on a leak-free split (measured 0.9714-0.9767).
    assert metrics["test"]["accuracy"] >= 0.970
    # Nothing served before: the value threshold alone blesses it, and it is version 1.
    assert metrics["blessed"] is True
    assert project.blessing()["pushed_version"] == 1
    assert project.versions() == ["1"]

    shown = project.output_json("dvc", "metrics", "show", "--json")[""]["data"]
    assert {path: _flatten(m["data"]) for path, m in shown.items()} == HEADLINE_METRICS
    table = project.run("dvc", "metrics", "show").splitlines()
    assert max(map(len, table)) <= 120, "\n".join(table)

    assert project.stages_run("dvc", "repro") == []
    assert project.changed_stages() == set()


def _tune(project: Project, trials: int) -> None:
    assert_lines_fit(project.run("mnist-tune", "--trials", str(trials), "--jobs", "2"))


def test_tuning_runs_each_trial_as_an_experiment_and_resumes(new_user: Project):
    project = new_user
    serving = project.serving()
    space = {
        "train.epochs": {"low": 1, "high": 2},
        "train.hidden_layer_size": {"choices": [32, 64]},
    }
    (project.path / "tune.yaml").write_text(
        yaml.safe_dump({"study": "cheap", "seed": 3, "space": space})
    )
    _tune(project, 2)
    _tune(project, 3)  # resumed: one more
    experiments = project.experiments()
    names = [f"cheap-{n:03d}" for n in range(3)]
    assert sorted(experiments) == names
    for data in experiments.values():  # trials run train and evaluate, never push
        params = data["params"]["params.yaml"]["data"]
        assert params["train"]["epochs"] in (1, 2) and params["evaluate"]["push"] is False
    study = optuna.load_study(
        study_name="cheap", storage=f"sqlite:///{project.path}/tune/studies.db"
    )
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert sorted(TrialNotes.of(t).experiment for t in trials) == names
    for trial in trials:  # each trial's value is its experiment's last validation accuracy
        metrics = experiments[TrialNotes.of(trial).experiment]["metrics"]
        assert trial.value == metrics[LIVE_METRICS]["data"]["val"]["accuracy"]
    assert project.serving() == serving
    assert (project.path / "tune" / "cheap-history.png").is_file()
    # The best trial, promoted to a branch of its own, holds its params and results.
    best = max(trials, key=lambda t: (t.value, -t.number))
    project.run("dvc", "exp", "branch", TrialNotes.of(best).experiment, "tuned")
    branch = yaml.safe_load(project.call("git", "show", "tuned:params.yaml").stdout)
    assert branch["train"]["epochs"] == best.params["train.epochs"]
    tested = project.output_json("git", "show", f"tuned:{METRICS}")["test"]["accuracy"]
    assert tested == TrialNotes.of(best).test_accuracy
    project.run("git", "branch", "-D", "tuned")


# A trial's train stage is running: the stage's temp output, in the trial's executor folder.
TRIAL_TRAINING = ".dvc/tmp/exps/standalone/tmp*/.dvclive.tmp-*"
EXECUTORS = ".dvc/tmp/exps/standalone/tmp*"


def _trial_session(project: Project, name: str) -> int:
    """The session of the trial called `name`: its process leads it, its DVC and stages are
    in it."""
    pids = project.call("pgrep", "-f", f"dvc exp run --temp -n {name}").stdout.split()
    [session] = {os.getsid(int(pid)) for pid in pids}  # the trial's process and its DVC
    return session


def test_a_stopped_tuning_run_leaves_no_experiment_running(digits_project: Project, tmp_path: Path):
    project = digits_project
    space = {"train.epochs": {"choices": [1]}, "train.hidden_layer_size": {"choices": [8, 16]}}
    (project.path / "tune.yaml").write_text(
        yaml.safe_dump({"study": "stop", "seed": 3, "space": space})
    )
    tune = ["mnist-tune", "--trials", "3", "--jobs", "1"]
    # SIGTERM while a trial trains: DVC cleans up after it.
    stopped = project.start(*tune, log=tmp_path / "stopped.log")
    project.wait_for(TRIAL_TRAINING, stopped)
    stopped.terminate()
    assert stopped.wait(timeout=120) == 143
    output = (tmp_path / "stopped.log").read_text()
    [error] = [line for line in output.splitlines() if " ERROR " in line]
    assert "interrupted: trials that finished are kept" in error and "Traceback" not in output
    assert project.experiment_states() == {}  # neither running nor listed at all
    assert not list(project.path.glob(EXECUTORS))
    # SIGKILL to mnist-tune: its trial ends with it (DVC and the stage, not running on
    # unseen), leaving an experiment DVC lists as running for good; the next mnist-tune
    # removes it, and completes.
    killed = project.start(*tune, log=tmp_path / "killed.log")
    project.wait_for(TRIAL_TRAINING, killed)
    trial = _trial_session(project, "stop-001")
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    session_ends(trial)
    assert project.experiment_states() == {"stop-001": "running"}
    resumed = project.run("mnist-tune", "--trials", "1", "--jobs", "1")
    assert "experiment stop-001 was left running by a killed trial: removed" in resumed
    assert project.experiment_states() == {"stop-002": "success"}
    assert not list(project.path.glob(EXECUTORS))
    study = optuna.load_study(
        study_name="stop", storage=f"sqlite:///{project.path}/tune/studies.db"
    )
    trials = study.get_trials(deepcopy=False)
    fail, complete = optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE
    assert [t.state for t in trials] == [fail, fail, complete]
    assert TrialNotes.of(trials[0]).error == "interrupted"


def test_queued_sweep_with_uncommitted_lock_records_every_result(new_user: Project):
    project = new_user
    serving = project.serving()
    project.run("dvc", "exp", "run", "--queue", "-S", "train.epochs=1,5")
    assert list(project.run_queue(jobs=2).values()) == ["success", "success"]
    runs = project.experiment_metrics()
    # dvc plots diff overlays the two runs' curves in one plot each.
    diff = project.output_json("dvc", "plots", "diff", "--json", *runs)["data"]
    for plot in ("loss", "accuracy"):
        assert [sorted(p["revisions"]) for p in diff[plot]] == [sorted(runs)]
    results = sorted(runs.values(), key=lambda m: m["test"]["accuracy"])
    one_epoch, five_epochs = results
    # One epoch misses evaluate.min_accuracy; five is the model serving already.
    assert one_epoch["blessed"] is False and one_epoch["test"]["accuracy"] < DIGITS_MIN_ACCURACY
    assert five_epochs["blessed"] is True
    assert five_epochs["test"] == project.json(METRICS)["test"]
    assert project.serving() == serving
    # Promoting the best: its results into the workspace, the pushed versions untouched.
    best = max(runs, key=lambda name: runs[name]["test"]["accuracy"])
    project.run("dvc", "exp", "apply", best)
    assert project.serving() == serving


def test_forced_runs_are_byte_identical(project: Project):
    before = project.lock_hashes()
    metrics = project.read(METRICS)
    assert project.stages_run("dvc", "repro", "--force") == ALL_STAGES
    assert project.lock_hashes() == before
    assert project.read(METRICS) == metrics
    # Byte-stable ingest output: forcing it again leaves everything downstream current.
    project.run("dvc", "repro", "--force", "--single-item", "ingest")
    assert project.stages_run("dvc", "repro") == []


# One module for each set of stages that import it (tests/test_dvc_yaml.py checks every
# module against dvc.yaml; this checks that DVC reads dvc.yaml the same way).
EDITS = [
    "pipeline/schema.py",  # every stage
    "components/__init__.py",  # every stage, through the package
    "components/ingest/mirror.py",  # ingest
    "components/preprocess/augment.py",  # preprocess
    "components/train/models.py",  # train
    "pipeline/dataset.py",  # train and evaluate
    "components/evaluate/export.py",  # evaluate
    "tools/compare.py",  # no stage: a console script
]


def test_editing_shared_code_changes_exactly_the_stages_that_import_it(project: Project):
    code = {stage: code_of(stage) for stage in STAGES}
    for module in EDITS:
        path = project.path / module
        original = path.read_text()
        path.write_text(original + "# an edit\n")
        changed = project.changed_stages()
        path.write_text(original)
        assert changed == {stage for stage in code if module in code[stage]}, module
    assert project.changed_stages() == set()


def _on_runner(project: Project, runner: str, beam_args: list[str]) -> list[str]:
    project.set_param("preprocess.runner", runner)
    project.set_param("preprocess.beam_args", beam_args)
    try:
        return project.stages_run("dvc", "repro", "-s", "preprocess")
    finally:
        project.set_param("preprocess.runner", "FnApiRunner")
        project.set_param("preprocess.beam_args", [])


def test_preprocess_on_distributed_runners_gives_the_same_bytes(project: Project):
    # A job service and an external worker pool (Flink's or Spark's layout with a sidecar),
    # and a Dask scheduler with two workers: each a process of its own on 127.0.0.1.
    with cluster.beam_portable() as portable, cluster.dask(workers=2) as dask:
        for shards in (1, 3):
            project.set_param("preprocess.num_shards", shards)
            project.run("dvc", "repro", "-s", "preprocess")
            expected = project.processed()
            assert len(expected) == 1 + 3 * shards  # stats.json and each split's shards
            assert _on_runner(project, "PortableRunner", portable) == ["preprocess"]
            assert project.processed() == expected
            before = cluster.dask_tasks_run(dask)
            dask_args = [f"--dask_client_address={dask}"]
            assert _on_runner(project, "DaskRunner", dask_args) == ["preprocess"]
            assert project.processed() == expected
            after = cluster.dask_tasks_run(dask)
            assert len(after) == 2 and all(after[w] > before.get(w, 0) for w in after), after


def test_plots_show_each_intended_plot_once(project: Project):
    # With -o, the JSON lists image plots too.
    shown = project.output_json("dvc", "plots", "show", "--json", "-o", "plots_json")
    assert set(shown["data"]) == PLOTS
    specs = {
        name: plots[0]["content"] for name, plots in shown["data"].items() if "content" in plots[0]
    }
    assert set(specs) == PLOTS - PICTURES
    # Whole epochs, from 1; the errors where they can be told apart, not bars on a 0-1 axis.
    assert specs["loss"]["encoding"]["x"]["axis"] == {"tickMinStep": 1, "format": "d"}
    epochs = sorted({int(row["step"]) for row in specs["loss"]["data"]["values"]})
    assert epochs == list(range(5))  # DVCLive's steps: the template adds 1
    assert specs["confusion"]["spec"]["transform"][0] == {
        "filter": "datum['actual'] != datum['predicted']"
    }
    rows = specs["errors"]["data"]["values"]
    assert sum(int(row["missed"]) for row in rows) == sum(int(r["false_alarms"]) for r in rows)
    project.run("dvc", "plots", "show", "-o", "plots_html")
    html = project.read("plots_html/index.html")
    for title in (
        "Loss per epoch",
        "Accuracy per epoch",
        "Test errors by actual and predicted class",
        "Test errors per class",
        *(picture.rsplit("/", 1)[1] for picture in PICTURES),
    ):
        assert title in html
    shutil.rmtree(project.path / "plots_html")
    shutil.rmtree(project.path / "plots_json")


def test_push_then_pull_in_a_fresh_clone_as_the_readme_says(project: Project, tmp_path: Path):
    sharing = recipe("README.md", "sharing")
    remote, clone = tmp_path / "remote", tmp_path / "clone"
    commands = [
        ("dvc remote add -d shared /mnt/team/mnist-dvc", str(remote)),
        ('git add -A && git commit -m "Add results and a DVC remote"', None),
        ("dvc push", None),
    ]
    for command, path in commands:
        assert command in sharing, f"README no longer says {command!r}"
        line = command.replace("/mnt/team/mnist-dvc", path) if path else command
        project.run("bash", "-c", line)
    assert "git clone" in sharing and "dvc pull && dvc status" in sharing
    project.run("git", "clone", "-q", str(project.path), str(clone))
    project.run("bash", "-c", "dvc pull && dvc status", cwd=clone)
    assert "up to date" in project.run("dvc", "status", cwd=clone)
    for out in (*DATA_OUTPUTS, "reports", "dvclive"):
        files = [p for p in (project.path / out).rglob("*") if p.is_file()]
        files += [project.path / out] if (project.path / out).is_file() else []
        assert files
        for file in files:
            assert (clone / file.relative_to(project.path)).read_bytes() == file.read_bytes()
    # The tools come from `make setup` (this test's venv is the same lock's); the clone has
    # no serving folder: one push serves the pulled model, and git stays clean.
    assert "make setup && source .venv/bin/activate" in sharing
    assert "mnist-push && mnist-predict my_digit.png" in sharing
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255  # a one
    Image.fromarray(digit).save(clone / "my_digit.png")
    project.run("bash", "-c", "mnist-push && mnist-predict my_digit.png --json", cwd=clone)
    again = project.run("mnist-push", cwd=clone)
    assert "serves already as version 1" in again
    predicted = json.loads(
        project.call("mnist-predict", "my_digit.png", "--json", cwd=clone).stdout
    )
    assert predicted["label"] == "1"
    (clone / "my_digit.png").unlink()
    assert project.run("git", "status", "--porcelain", cwd=clone) == ""


def test_unblessed_experiment_completes_and_serving_is_untouched(digits_project: Project):
    project = digits_project
    serving = project.serving()
    # DVC's run-cache holds this train run once a --temp experiment has made it; train's
    # outputs persist (a failed run keeps them), and DVC's run-cache skips no stage with
    # persistent outputs: it runs again.
    project.run("dvc", "exp", "run", "--temp", "-S", "train.epochs=1")
    ran = project.stages_run("dvc", "exp", "run", "-S", "train.epochs=1")
    assert ran == ["train", "evaluate"]
    # One epoch misses the threshold: the experiment completes, version 1 keeps serving.
    blessing = project.blessing()
    assert (blessing["blessed"], blessing["check"]) == (False, "value")
    assert project.serving() == serving
    # `dvc exp show` lists the experiment with its param and every headline metric.
    listed = [d for d in project.experiments().values() if _epochs(d) == 1]
    assert len(listed) == 2  # the --temp one, and this one
    for data in listed:
        metrics = {path: _flatten(m["data"]) for path, m in data["metrics"].items()}
        assert metrics == HEADLINE_METRICS
        assert data["metrics"][METRICS]["data"]["blessed"] is False


def _epochs(data: dict) -> int:
    return data["params"]["params.yaml"]["data"]["train"]["epochs"]

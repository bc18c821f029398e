"""A folder of the user's own labelled images through DVC, as docs/own-data.md tells it:
images in data/images, then its recipe (`dvc add`, the two params, a run, a commit); then
metrics, plots and a pushed model in the dataset's class names, mnist-predict answering in
them, and every way DVC runs the pipeline seeing the folder: a queued sweep, mnist-tune.

The dataset is one the project did not make and MNIST is not: colour images of four
classes with names (MNIST's digits 0-3 in random colours, tests.support.folders).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

from pipeline import artifacts, schema
from tests.support.folders import COLOUR_CLASSES, colour_folder, save_png
from tests.support.project import (
    ALL_STAGES,
    METRICS,
    PATHS,
    Project,
    copies,
    frozen_project,
    recipe,
)

pytestmark = pytest.mark.e2e

IMAGES = "data/images"
CLASSES = tuple(sorted(COLOUR_CLASSES))  # the class ids' order: by name, as tfds's ImageFolder


# Beside the baseline's clone: the stages the recipe ran.
RECIPE_RUN = "recipe-run.json"


@pytest.fixture(scope="session")
def own_folder(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path, mnist) -> Path:
    """A clone with the colour folder in data/images after docs/own-data.md's recipe: its
    folder, the stages the recipe ran kept beside it (`RECIPE_RUN`)."""

    def build(project: Project) -> None:
        colour_folder(mnist, project.path / IMAGES, per_class=400)
        # What a model of 1,440 examples must reach to be served: the user's call (MNIST's
        # is 0.97).
        project.set_param("evaluate.min_accuracy", 0.85)
        # The recipe ends in `dvc push`: a DVC remote, as README's sharing recipe adds one.
        remote = project.path.with_name(f"{project.path.name}-remote")
        project.run("dvc", "remote", "add", "-d", "shared", str(remote))
        ran = project.stages_run("bash", "-e", "-c", recipe("docs/own-data.md", "own-folder"))
        (project.path.parent / RECIPE_RUN).write_text(json.dumps(ran))
        # Every copy's config names this remote: read-only, no test changes what the next sees.
        for path in (remote, *remote.rglob("*")):
            path.chmod(path.stat().st_mode & ~0o222)

    return frozen_project(tmp_path_factory, mirror_dir, "own-folder", build)


project = copies("own_folder")  # a copy for each test


def _remote(project: Project) -> Path:
    """The DVC remote the recipe pushed to, which every copy of the baseline shares."""
    return Path(project.run("dvc", "config", "remote.shared.url").strip())


def _rows(project: Project, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(project.read(f"{PATHS['reports']}/{name}"))))


def test_the_recipe_follows_the_folders_schema_to_a_served_model(
    project: Project, own_folder: Path
):
    assert "data/images" in project.read(".gitignore")  # git ignores the images...
    assert json.loads((own_folder.parent / RECIPE_RUN).read_text()) == ALL_STAGES
    assert project.run("git", "status", "--porcelain") == ""  # ...which DVC tracks
    assert project.changed_stages() == set()
    assert yaml.safe_load(project.read("params.yaml"))["data"]["folder"] == IMAGES
    inferred = schema.read_schema(project.path / PATHS["schema"])
    assert (inferred.image_shape, inferred.classes) == ((28, 28, 3), CLASSES)
    assert {r["class"] for r in _rows(project, artifacts.PER_CLASS_FILE)} == set(COLOUR_CLASSES)
    assert {r["actual"] for r in _rows(project, artifacts.PREDICTIONS_FILE)} == set(COLOUR_CLASSES)
    assert project.json(METRICS)["blessed"] is True
    plotted = project.output_json("dvc", "plots", "show", "--json")
    assert set(COLOUR_CLASSES) <= {
        row["class"] for row in plotted["data"]["errors"][0]["content"]["data"]["values"]
    }
    (version,) = project.versions()
    served = project.path / PATHS["serving"] / version / "assets.extra" / "schema.json"
    assert schema.read_schema(served) == inferred


def test_predict_answers_in_the_class_names(project: Project):
    image = next((project.path / IMAGES / "test" / "two").iterdir())
    answer = json.loads(project.run("mnist-predict", "--json", str(image)))
    assert answer["label"] == "two" and answer["label_id"] == CLASSES.index("two")
    assert tuple(answer["probabilities"]) == CLASSES


def test_a_queued_sweep_sees_the_folder(project: Project):
    # A queued experiment runs in a copy of the project made from git's and DVC's files.
    project.run("dvc", "exp", "run", "--queue", "-S", "train.epochs=1,2")
    states = project.run_queue(jobs=2)
    assert list(states.values()) == ["success", "success"], states
    for data in project.experiments().values():
        assert data["params"]["params.yaml"]["data"]["data"]["folder"] == IMAGES


def test_tuning_trials_see_the_folder(project: Project):
    space = {"train.epochs": {"choices": [1]}, "train.hidden_layer_size": {"choices": [16, 32]}}
    (project.path / "tune.yaml").write_text(
        yaml.safe_dump({"study": "own", "seed": 3, "space": space})
    )
    project.run("mnist-tune", "--trials", "2", "--jobs", "2")
    study = optuna.load_study(study_name="own", storage=f"sqlite:///{project.path}/tune/studies.db")
    complete = optuna.trial.TrialState.COMPLETE
    assert [t.state for t in study.get_trials(deepcopy=False)] == [complete, complete]


def test_a_teammates_pull_brings_the_folder(project: Project, tmp_path: Path):
    # The recipe committed the remote and pushed the images.
    assert _remote(project).is_dir()
    clone = tmp_path / "clone"
    project.run("git", "clone", "-q", str(project.path), str(clone))
    project.run("dvc", "pull", cwd=clone)
    assert "up to date" in project.run("dvc", "status", cwd=clone)
    ours, theirs = project.path / IMAGES, clone / IMAGES

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert files(ours) and files(ours) == files(theirs)


def _ingested(project: Project) -> dict[str, bytes]:
    files = [*(project.path / PATHS["raw"]).iterdir(), project.path / PATHS["schema"]]
    return {str(path): path.read_bytes() for path in files}


def test_a_bad_image_fails_in_one_line_and_keeps_the_outputs(project: Project):
    assert project.changed_stages() == set()
    before = _ingested(project)
    bad = project.path / IMAGES / "train" / "two" / "notes.txt"
    bad.write_text("not an image")
    try:
        # The folder DVC tracks has changed, and so has ingest's dependency.
        assert project.changed_stages() == {"data/images.dvc", "ingest"}
        result = project.call("dvc", "repro")
    finally:
        bad.unlink()
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "not images: train/two/notes.txt" in errors[0], result.stderr
    assert "data.bad_files: skip" in errors[0]
    assert _ingested(project) == before


def test_a_data_folder_that_does_not_exist_is_named_by_dvc_and_keeps_the_outputs(
    project: Project, tmp_path: Path
):
    # DVC checks ingest's dependencies before the stage runs, so DVC's line is the one users
    # see (docs/troubleshooting.md says so): it must name the folder, and lose nothing.
    before = _ingested(project)
    missing, params = tmp_path / "no-such-images", project.read("params.yaml")
    project.set_param("data.folder", str(missing))
    try:
        result = project.call("dvc", "repro")
    finally:
        (project.path / "params.yaml").write_text(params)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert "No such file or directory" in error and str(missing) in error, result.stderr
    assert _ingested(project) == before


def test_a_new_image_reruns_ingest(project: Project):
    before = project.lock_hashes()[PATHS["raw"]]
    save_png(np.zeros((28, 28, 3), np.uint8), project.path / IMAGES / "train" / "two" / "new.png")
    project.run("dvc", "add", IMAGES)  # as docs/own-data.md says: experiments see it then
    assert project.stages_run("dvc", "repro", "-s", "ingest") == ["ingest"]
    assert project.lock_hashes()[PATHS["raw"]] != before


def test_the_exclude_recipe_drops_what_the_audit_flags_and_keeps_its_report(project: Project):
    # docs/own-data.md's recipe as a user pastes it: audit train, drop the flagged, re-run.
    report = f"{PATHS['reports']}/{artifacts.LABEL_ISSUES_TRAIN_FILE}"
    project.run("bash", "-e", "-c", recipe("docs/own-data.md", "exclude"))
    flagged = project.json(report)["splits"]["train"]["flagged"]
    assert flagged and all(f["file"].startswith("train/") for f in flagged)  # files named
    ran = project.output
    assert f"excluded {len(flagged)} training examples named in {report}" in ran, ran
    # evaluate replaced the reports folder and kept the audit's report, the run's input, as
    # git has it.
    assert project.call("git", "diff", "--quiet", "--", report).returncode == 0
    assert project.json(report)["splits"]["train"]["flagged"] == flagged
    params = yaml.safe_load(project.read("params.yaml"))
    assert params["preprocess"]["exclude"] == report
    assert project.changed_stages() == set()

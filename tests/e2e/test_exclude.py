"""preprocess.exclude through DVC: the file it names is preprocess's dependency in the
workspace and in an experiment that names another file with `-S`."""

from __future__ import annotations

import pytest

from pipeline.params import NO_EXCLUDE
from tests.support.project import Project

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(mnist_project: Project) -> Project:
    return mnist_project


def test_editing_the_default_file_re_runs_preprocess(project: Project):
    default = project.path / NO_EXCLUDE
    shipped = default.read_text()
    default.write_text(shipped + "train-00000\n")
    try:
        status = project.output_json("dvc", "status", "--json")
        assert status == {"preprocess": [{"changed deps": {NO_EXCLUDE: "modified"}}]}
    finally:
        default.write_text(shipped)
    assert project.output_json("dvc", "status", "--json") == {}


def test_an_experiment_naming_another_file_depends_on_it(project: Project):
    (project.path / "data" / "drop.txt").write_text("train-00000\ntrain-00002\ntest-00001\n")
    project.run("git", "add", "data/drop.txt")  # what a --temp or queued run sees
    run = ["dvc", "exp", "run", "--temp", "-S", "preprocess.exclude=data/drop.txt"]
    assert project.stages_run(*run) == ["preprocess", "train", "evaluate"]
    # 0 and 2 are train's (the hash keeps both there at seed 42); test's is kept and counted.
    assert "excluded 2 training examples named in data/drop.txt" in project.output
    assert "kept 1 in test named in data/drop.txt: only training is filtered" in project.output
    (experiment,) = [
        run["data"]
        for rev in project.output_json("dvc", "exp", "show", "--json")
        for branch in rev.get("experiments") or []
        for run in branch["revs"]
    ]
    assert "data/drop.txt" in experiment["deps"]

import dataclasses
import shutil

import pytest

from components.evaluate import serving
from pipeline import artifacts, outputs, schema
from pipeline.errors import PipelineError, shown_path
from pipeline.reports import Blessing, Candidate, Score, Thresholds
from tests.support.evidence import assert_story_in_named_log, fail_with_evidence
from tests.support.records import MNIST, PETS
from tools import push


@pytest.fixture
def workspace(tmp_path, trained_model, mnist_schema):
    """What a teammate's clone holds after `dvc pull`: the model, the schema, the model's
    committed blessing, and no serving folder."""
    paths = artifacts.under(tmp_path)
    for name in ("model", "schema"):
        paths[name].parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(trained_model, paths["model"])
    shutil.copy(mnist_schema, paths["schema"])
    _bless(tmp_path, serving.file_sha256(trained_model), blessed=True)
    return tmp_path


def _bless(root, sha256: str, blessed: bool) -> None:
    blessing = Blessing(
        blessed=blessed,
        check="value",
        reason="test accuracy 0.9700 >= evaluate.min_accuracy 0.97",
        candidate=Candidate(sha256, Score(accuracy=0.97, loss=0.1)),
        baseline=None,
        thresholds=Thresholds(0.97, 0.0),
        pushed_version=1,
    )
    outputs.write_json(
        artifacts.under(root)["reports"] / artifacts.BLESSING_FILE, blessing.to_json()
    )


def test_the_pulled_blessed_model_is_pushed_once(workspace):
    assert push.push(workspace) == (1, True)
    version = artifacts.under(workspace)["serving"] / "1"
    assert (version / serving.SAVED_MODEL).is_file()
    record = serving.read_push_record(version)
    assert record.model_sha256 == serving.file_sha256(artifacts.under(workspace)["model"])
    assert push.push(workspace) == (1, False)  # serves already: nothing pushed twice


def test_the_version_carries_the_schema_and_a_schema_of_another_model_is_refused(workspace):
    paths = artifacts.under(workspace)
    other = schema.read_schema(paths["schema"])
    schema.write_schema(paths["schema"], dataclasses.replace(other, classes=("a", "b")))
    with pytest.raises(PipelineError, match=r"schema\.json is not the schema the model was"):
        push.push(workspace)
    schema.write_schema(paths["schema"], other)
    push.push(workspace)
    assert schema.read_schema(paths["serving"] / "1" / serving.SCHEMA) == other


def test_a_model_that_is_not_the_blessed_one_is_refused(workspace):
    _bless(workspace, "0" * 64, blessed=True)
    with pytest.raises(
        PipelineError, match=r"is not the model .*blessing\.json blessed; `dvc checkout`"
    ):
        push.push(workspace)


def test_an_unblessed_model_is_not_served(workspace):
    _bless(workspace, serving.file_sha256(artifacts.under(workspace)["model"]), blessed=False)
    with pytest.raises(PipelineError, match=r"the model was not blessed \(test accuracy"):
        push.push(workspace)


def test_another_model_serving_is_left_to_evaluate(workspace):
    (artifacts.under(workspace)["serving"] / "3").mkdir(parents=True)
    (artifacts.under(workspace)["serving"] / "3" / serving.SAVED_MODEL).write_bytes(b"another")
    with pytest.raises(
        PipelineError, match=r"serving/3 serves another model.*dvc repro --force -s evaluate"
    ):
        push.push(workspace)


def test_nothing_pulled_says_what_to_run(tmp_path):
    with pytest.raises(PipelineError, match=r"model\.keras not found; run `dvc pull`"):
        push.push(tmp_path)


def _fake_version(base, name: str, data: schema.Schema | None) -> None:
    """A version folder as mnist-push reads it (it never loads the model that serves)."""
    (base / name / serving.EXTRA).mkdir(parents=True)
    (base / name / serving.SAVED_MODEL).write_bytes(b"another")
    if data is not None:
        schema.write_schema(base / name / serving.SCHEMA, data)


def test_a_model_of_another_dataset_is_replaced_and_a_line_says_so(workspace, caplog):
    # Over another dataset's model the blessing's value check is all evaluate would ask.
    # '٣' is no version to TF Serving (int() read it as 3); '007' is its version 7.
    base = artifacts.under(workspace)["serving"]
    _fake_version(base, "007", PETS)
    _fake_version(base, "٣", MNIST)
    assert push.push(workspace) == (8, True)
    assert (base / "8" / serving.SAVED_MODEL).is_file()
    lines = [record.getMessage() for record in caplog.records]
    assert f"{shown_path(base)}: ignoring '٣': not version numbers TF Serving loads" in lines
    assert (
        "version 7 serves cat..newt (12x10x3); this project: 0..9 (28x28x1): version 8 replaces it"
    ) in lines


def test_a_version_without_a_schema_is_of_the_mnist_family(workspace):
    _fake_version(artifacts.under(workspace)["serving"], "2", None)
    with pytest.raises(PipelineError, match=r"serving/2 serves another model"):
        push.push(workspace)


def test_a_failure_keeps_its_whole_story_in_mnist_pushs_log(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # the project, as in a --temp experiment
    monkeypatch.setattr(push, "push", fail_with_evidence)
    assert push.main([]) == 1
    [record] = caplog.records
    assert_story_in_named_log(record.getMessage(), tmp_path, "mnist-push")


def test_a_staged_version_that_does_not_load_is_not_pushed_and_said_in_one_line(
    workspace, monkeypatch, caplog
):
    # mnist-push shares evaluate's push: its staged folder passes InfraValidator or stays unserved.
    from components.evaluate import infra

    real_validate = infra.validate

    def broken_then_validated(staged, target, probe):
        tflite = staged / serving.TFLITE_MODEL
        tflite.write_bytes(tflite.read_bytes()[:100])
        real_validate(staged, target, probe)

    monkeypatch.setattr(infra, "validate", broken_then_validated)
    monkeypatch.chdir(workspace)
    assert push.main([]) == 1
    [record] = [r for r in caplog.records if r.levelno >= 40]
    assert record.getMessage() == (
        "InfraValidator: version 1 does not load; not pushed; all of it is in logs/mnist-push.log"
    )
    assert list(artifacts.under(workspace)["serving"].iterdir()) == []
    story = (workspace / "logs" / "mnist-push.log").read_text()
    assert "cannot load the TFLite model" in story and "`mnist-push`" in story

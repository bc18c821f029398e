import shutil

import pytest

from components.evaluate import serving
from pipeline import artifacts, outputs
from pipeline.errors import PipelineError
from pipeline.reports import Blessing, Candidate, Score, Thresholds
from tools import push


@pytest.fixture
def workspace(tmp_path, trained_model):
    """What a teammate's clone holds after `dvc pull`: the model, its committed blessing,
    and no serving folder."""
    paths = artifacts.under(tmp_path)
    paths["model"].parent.mkdir(parents=True)
    shutil.copy(trained_model, paths["model"])
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

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from components.evaluate import serving
from pipeline import schema
from pipeline.errors import PipelineError
from tests.support.records import MNIST, PETS
from tools.predict import model


def _version(base, number: int):
    version = base / str(number)
    version.mkdir(parents=True)
    (version / serving.SAVED_MODEL).write_bytes(b"")  # resolve looks, it does not load
    return version


def test_resolve_takes_a_tflite_file_a_savedmodel_or_a_serving_folders_latest(tmp_path):
    base = tmp_path / "serving"
    _version(base, 2)
    latest = _version(base, 10)  # by number, not by name
    lite = tmp_path / "m.tflite"
    lite.write_bytes(b"")
    assert model.resolve(str(lite)) == lite
    assert model.resolve(str(latest)) == latest
    assert model.resolve(str(base)) == latest


def test_resolve_says_what_is_wrong_with_a_model_given(tmp_path):
    with pytest.raises(PipelineError, match="no such file or folder"):
        model.resolve(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PipelineError, match=r"neither a \.tflite file, a SavedModel, nor"):
        model.resolve(str(tmp_path / "empty"))
    _version(tmp_path / "damaged", 1)
    (tmp_path / "damaged" / "2").mkdir()
    with pytest.raises(PipelineError, match=r"\(the latest\) holds no SavedModel"):
        model.resolve(str(tmp_path / "damaged"))


def test_resolve_without_a_model_served_names_the_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineError, match=r"no model is served from models/serving yet"):
        model.resolve(None)
    _version(tmp_path / "models" / "serving", 1)
    assert model.resolve(None).resolve() == (tmp_path / "models" / "serving" / "1").resolve()


def test_a_versions_tflite_model_is_read_with_the_versions_schema(serving_dir):
    tflite = serving_dir / serving.TFLITE_MODEL
    assert serving.version_of(tflite) == serving_dir
    served = model.load(tflite)
    assert served.schema == model.load(serving_dir).schema
    assert served.schema.framing == schema.DIGIT
    probabilities = served.classify(np.zeros((3, 28, 28), np.uint8))
    assert probabilities.shape == (3, len(served.schema.classes))
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)


def test_a_bare_tflite_file_is_taken_as_its_input_says(serving_dir, tmp_path, monkeypatch):
    bare = tmp_path / "model.tflite"
    shutil.copy(serving_dir / serving.TFLITE_MODEL, bare)
    monkeypatch.chdir(tmp_path)  # as `mnist-predict --model model.tflite`: no folder above it
    assert serving.version_of(Path("model.tflite")) is None
    assert serving.version_of(Path("a/model.tflite")) is None
    served = model.load(Path("model.tflite"))
    assert served.schema.classes == tuple(str(n) for n in range(10))
    assert served.schema.framing == schema.DIGIT


def test_a_model_of_another_size_is_resized_for():
    found = model._as_the_model_says((32, 32, 3), 4)
    assert (found.height, found.width, found.channels) == (32, 32, 3)
    assert found.framing == schema.RESIZE and found.classes == ("0", "1", "2", "3")


@pytest.mark.parametrize("runtime", ["tflite", "savedmodel"])
def test_a_versions_schema_that_is_not_its_models_is_one_line(tmp_path, serving_dir, runtime):
    # A schema.json edited by hand, or copied from a version of other data: images would be
    # made to its size and answers named by its classes. Said before any image is prepared.
    version = tmp_path / "serving" / "4"
    shutil.copytree(serving_dir, version)
    if runtime == "savedmodel":
        (version / serving.TFLITE_MODEL).unlink()
    schema.write_schema(version / serving.SCHEMA, PETS)
    with pytest.raises(PipelineError, match=r"4/assets\.extra/schema\.json says cat\.\.newt "):
        model.load(version)
    three = dataclasses.replace(MNIST, classes=("a", "b", "c"))
    schema.write_schema(version / serving.SCHEMA, three)
    with pytest.raises(PipelineError, match="but its model gives 10 classes: they do not go"):
        model.load(version)

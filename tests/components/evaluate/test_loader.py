import base64
import io
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.evaluate import loader, serving
from pipeline.errors import PipelineError
from tests.support.records import PETS, schema_file
from tools.serve import predict

N = 200  # real test digits


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist["test_images"][:N]


def _png(image: np.ndarray) -> bytes:
    encoded = io.BytesIO()
    Image.fromarray(image).save(encoded, format="PNG")
    return encoded.getvalue()


def test_answers_are_the_saved_models_on_pixels(small_serving_dir, digits, small_signatures):
    version = loader.load_version(small_serving_dir / "1", digits[:3])
    assert version.number == 1 and version.schema.classes == tuple("0123456789")
    ours = version.answer(digits)
    theirs = small_signatures["serving_default"](images=tf.constant(digits))
    np.testing.assert_array_equal(ours["classes"], theirs["classes"].numpy())
    np.testing.assert_allclose(ours["probabilities"], theirs["probabilities"].numpy(), atol=1e-5)


def test_answers_are_the_saved_models_on_png_files(small_serving_dir, digits, small_signatures):
    version = loader.load_version(small_serving_dir / "1")
    pngs = [_png(image) for image in digits]
    request = [{"b64": base64.b64encode(png).decode()} for png in pngs]
    images = predict.input_images("predict_png", False, request, version.schema)
    ours = version.answer(images)
    theirs = small_signatures["predict_png"](png=tf.constant(pngs))
    np.testing.assert_array_equal(ours["classes"], theirs["classes"].numpy())
    np.testing.assert_allclose(ours["probabilities"], theirs["probabilities"].numpy(), atol=1e-5)


def _copy(small_serving_dir, tmp_path):
    return shutil.copytree(small_serving_dir / "1", tmp_path / "2")


def test_a_damaged_flatbuffer_does_not_load(small_serving_dir, tmp_path):
    version = _copy(small_serving_dir, tmp_path)
    tflite = version / serving.TFLITE_MODEL
    tflite.write_bytes(tflite.read_bytes()[: tflite.stat().st_size // 3])
    with pytest.raises(PipelineError, match="cannot load the TFLite model"):
        loader.load_version(version)


def test_a_schema_that_is_not_the_models_does_not_load(small_serving_dir, tmp_path):
    version = _copy(small_serving_dir, tmp_path)
    shutil.copy(schema_file(tmp_path / "pets", PETS), version / serving.SCHEMA)
    with pytest.raises(PipelineError, match="they do not go together"):
        loader.load_version(version)


@pytest.mark.parametrize("missing", [serving.TFLITE_MODEL, serving.SCHEMA])
def test_a_version_pushed_before_versions_carried_a_file_does_not_load(
    small_serving_dir, tmp_path, missing
):
    version = _copy(small_serving_dir, tmp_path)
    (version / missing).unlink()
    with pytest.raises(PipelineError) as raised:
        loader.load_version(version)
    assert str(raised.value).endswith(f"has no {missing} (pushed before versions carried one)")

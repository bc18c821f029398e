import dataclasses
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from components.evaluate import export, lite, serving
from components.train import models
from pipeline import transform
from pipeline.reports import Score
from tests.support.records import MNIST, PETS, default_params, random_examples


def test_both_signatures_take_raw_inputs_and_return_classes_and_probabilities(serving_dir):
    loaded = tf.saved_model.load(str(serving_dir))
    assert set(loaded.signatures) == set(export.SIGNATURES)
    inputs = {
        name: loaded.signatures[name].structured_input_signature[1] for name in export.SIGNATURES
    }
    assert inputs["serving_default"]["images"].dtype == tf.uint8
    assert inputs["predict_png"]["png"].dtype == tf.string
    for name in export.SIGNATURES:
        outputs = loaded.signatures[name].structured_outputs
        assert (outputs["classes"].dtype, outputs["probabilities"].dtype) == (tf.int64, tf.float32)


def test_fresh_process_serves_what_keras_predicts(tmp_path, serving_dir, trained_model, mnist):
    images = mnist["test_images"]
    np.save(tmp_path / "images.npy", images)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        serve = tf.saved_model.load({str(serving_dir)!r}).signatures["serving_default"]
        out = serve(images=tf.constant(np.load({str(tmp_path / "images.npy")!r})))
        np.save({str(tmp_path / "served.npy")!r}, out["probabilities"].numpy())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    served = np.load(tmp_path / "served.npy")
    model = keras.models.load_model(trained_model)
    expected = model.predict(transform.scale_pixels(images[..., None]), verbose=0)
    assert served.shape == (10_000, 10)
    np.testing.assert_array_equal(served.argmax(1), expected.argmax(1))
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_png_signature_and_rank_4_input_agree(serving_dir, mnist):
    loaded = tf.saved_model.load(str(serving_dir))
    images = mnist["test_images"][:50]
    raw = loaded.signatures["serving_default"](images=tf.constant(images[..., None]))
    png = [tf.io.encode_png(image[..., None]).numpy() for image in images]
    from_png = loaded.signatures["predict_png"](png=tf.constant(png))
    np.testing.assert_array_equal(raw["classes"].numpy(), from_png["classes"].numpy())


def test_push_adds_the_next_version_and_leaves_earlier_ones(tmp_path, trained_model, mnist):
    base = tmp_path / "serving"
    (base / "7").mkdir(parents=True)  # a version pushed by other means: numbers go on from it
    (base / "7" / "marker").write_text("version 7")
    record = serving.PushRecord(serving.file_sha256(trained_model), Score(0.97, 0.1))
    version = export.push(keras.models.load_model(trained_model), base, record, MNIST)
    assert version == base / "8"
    assert (base / "7" / "marker").read_text() == "version 7"
    assert serving.read_push_record(version) == record
    assert serving.read_push_record(base / "7") is None
    assert serving.read_version_schema(version) == MNIST
    assert serving.read_version_schema(base / "7") is None  # pushed before versions had one
    images = mnist["test_images"][:300]
    scaled = transform.scale_pixels(images[..., None])
    expected = keras.models.load_model(trained_model).predict(scaled, verbose=0)
    served = serving.load_signature(version)(images=tf.constant(images))["probabilities"]
    np.testing.assert_allclose(served.numpy(), expected, atol=1e-5)
    # Nothing else is left in the base folder: no temp folder a model server could trip on.
    assert sorted(p.name for p in base.iterdir()) == ["7", "8"]


@pytest.fixture(scope="module")
def pets_export(tmp_path_factory) -> tuple[keras.Model, object]:
    """An untrained small model of PETS's schema, exported: what follows the schema is the
    shapes, whatever the weights."""
    keras.utils.set_random_seed(0)
    params = dataclasses.replace(default_params().train, hidden_layer_size=8)
    model = models.build_model(params, PETS, steps_per_epoch=1)
    out = tmp_path_factory.mktemp("pets_export") / "serving"
    export.export_saved_model(model, out, PETS)
    return model, out


def test_the_signatures_take_the_schemas_images_and_give_its_classes(pets_export):
    model, out = pets_export
    _, images, _ = random_examples(PETS, "test", 5)
    expected = model.predict(transform.scale_pixels(images), verbose=0)
    loaded = tf.saved_model.load(str(out))
    raw = loaded.signatures["serving_default"](images=tf.constant(images))
    assert raw["probabilities"].shape == (5, PETS.num_classes)
    np.testing.assert_allclose(raw["probabilities"].numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(raw["classes"].numpy(), expected.argmax(1))
    # PNG files of the schema's size decode to the same pixels; of another, are resized.
    png = [tf.io.encode_png(image).numpy() for image in images]
    from_png = loaded.signatures["predict_png"](png=tf.constant(png))
    np.testing.assert_allclose(from_png["probabilities"].numpy(), expected, atol=1e-6)
    larger = [tf.io.encode_png(np.repeat(np.repeat(i, 2, 0), 2, 1)).numpy() for i in images]
    resized = loaded.signatures["predict_png"](png=tf.constant(larger))["probabilities"]
    assert resized.shape == (5, PETS.num_classes)
    assert serving.read_version_schema(out) == PETS


def test_the_tflite_model_takes_the_schemas_images_too(pets_export):
    model, out = pets_export
    lite_model = lite.LiteModel(out / serving.TFLITE_MODEL)
    assert lite_model.shape == PETS.image_shape
    _, images, _ = random_examples(PETS, "test", 5)
    expected = model.predict(transform.scale_pixels(images), verbose=0)
    np.testing.assert_allclose(lite_model(images), expected, atol=1e-5)

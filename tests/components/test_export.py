import subprocess
import sys
import textwrap

import keras
import numpy as np
import tensorflow as tf

from components import export as ex
from pipeline import io, transform


def test_saved_model_cli_lists_both_signatures(serving_dir):
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "tensorflow.python.tools.saved_model_cli",
            "show",
            "--all",
            "--dir",
            str(serving_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    for signature in ex.SIGNATURES:
        assert f"signature_def['{signature}']" in shown
    assert "inputs['images'] tensor_info:\n        dtype: DT_UINT8" in shown
    assert "inputs['png'] tensor_info:\n        dtype: DT_STRING" in shown
    assert "outputs['probabilities']" in shown and "outputs['classes']" in shown


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
    record = {"model_sha256": ex.file_sha256(trained_model), "test": {"accuracy": 0.97}}
    version = ex.push(keras.models.load_model(trained_model), base, record)
    assert version == base / "8"
    assert (base / "7" / "marker").read_text() == "version 7"
    assert ex.push_record(version) == record
    assert ex.push_record(base / "7") == {}
    assert io.latest_version(base) == version
    images = mnist["test_images"][:300]
    scaled = transform.scale_pixels(images[..., None])
    expected = keras.models.load_model(trained_model).predict(scaled, verbose=0)
    served = ex.serving_signature(version)(images=tf.constant(images))["probabilities"]
    np.testing.assert_allclose(served.numpy(), expected, atol=1e-5)
    # Nothing else is left in the base folder: no temp folder a model server could trip on.
    assert sorted(p.name for p in base.iterdir()) == ["7", "8"]


def test_a_push_killed_midway_leaves_no_version_and_is_cleaned_up(tmp_path):
    base = tmp_path / "serving"
    (base / "1").mkdir(parents=True)
    unfinished = base / f".2{io.TMP_MARK}4242"  # what a push killed mid-write leaves
    (unfinished / "variables").mkdir(parents=True)
    assert io.latest_version(base) == base / "1"  # hidden, not a number: never served
    ex.remove_unfinished_pushes(base)
    assert sorted(p.name for p in base.iterdir()) == ["1"]

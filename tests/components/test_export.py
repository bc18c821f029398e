import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from components import export as ex
from pipeline.errors import PipelineError


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
    expected = model.predict(images[..., None].astype(np.float32) / 255, verbose=0)
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


def _metrics(tmp_path, accuracy):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"test": {"accuracy": accuracy}}))
    return path


def test_gate_keeps_previous_export_for_a_weak_model(tmp_path, trained_model):
    out = tmp_path / "serving"
    out.mkdir()
    (out / "previous").write_text("the blessed export")
    blessing = ex.export(
        model_path=trained_model,
        metrics_path=_metrics(tmp_path, 0.5),
        out_dir=out,
        blessing_path=tmp_path / "b.json",
        min_accuracy=0.97,
    )
    assert blessing == {"blessed": False, "test_accuracy": 0.5, "min_accuracy": 0.97}
    assert json.loads((tmp_path / "b.json").read_text()) == blessing
    assert [p.name for p in out.iterdir()] == ["previous"]


def test_gate_passes_a_good_model(tmp_path, trained_model):
    blessing = ex.export(
        model_path=trained_model,
        metrics_path=_metrics(tmp_path, 0.98),
        out_dir=tmp_path / "serving",
        blessing_path=tmp_path / "b.json",
        min_accuracy=0.97,
    )
    assert blessing["blessed"]
    assert (tmp_path / "serving" / "saved_model.pb").is_file()


def test_gate_without_previous_export_fails_clearly(tmp_path, trained_model):
    with pytest.raises(PipelineError, match=r"below evaluate.min_accuracy 0.97 and no earlier"):
        ex.export(
            model_path=trained_model,
            metrics_path=_metrics(tmp_path, 0.5),
            out_dir=tmp_path / "serving",
            blessing_path=tmp_path / "b.json",
            min_accuracy=0.97,
        )
    assert not (tmp_path / "serving").exists()

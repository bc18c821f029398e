"""Export: a TF Serving SavedModel of the trained model, behind a quality gate.

The evaluate stage runs it right after scoring (one process: a stage of its own cost ~3 s
of TensorFlow start-up per run). Like TFX's Evaluator blessing plus Pusher: the model is
exported only when its test accuracy is at least `evaluate.min_accuracy`. Either way
`blessing.json` records the verdict (a DVC metric); a model below the gate is not exported,
the stage says so, and the previous export stays in place, so an experiment with a weak
model still completes. The SavedModel's
signatures take raw pixels, so the scaling to [0, 1] lives in the graph and serving cannot
drift from training:

- `serving_default`: `images`, uint8 [N, 28, 28] or [N, 28, 28, 1];
- `predict_png`: `png`, string [N] of encoded PNG digits (any size, resized to 28x28);

both return `classes` (int64 [N]) and `probabilities` (float32 [N, 10]).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import keras
import tensorflow as tf

from pipeline import io, schema
from pipeline.errors import PipelineError

logger = logging.getLogger(__name__)

SIGNATURES = ("serving_default", "predict_png")


def classify(model: keras.Model, images: tf.Tensor) -> dict[str, tf.Tensor]:
    """Raw uint8 pixels -> predicted classes and probabilities, scaled as preprocess does."""
    scaled = tf.cast(tf.reshape(images, (-1, *schema.IMAGE_SHAPE)), tf.float32) / 255.0
    probabilities = model(scaled, training=False)
    return {"classes": tf.argmax(probabilities, axis=1), "probabilities": probabilities}


def _decode_png(png: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_png(png, channels=1)
    resized = tf.image.resize(image, schema.IMAGE_SHAPE[:2], antialias=True)
    return tf.cast(tf.round(resized), tf.uint8)


def export_saved_model(model: keras.Model, out_dir: str | Path) -> None:
    """Writes `model` as a SavedModel with the raw-pixel and PNG signatures, atomically."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda images: classify(model, images),
        input_signature=[tf.TensorSpec(None, tf.uint8, name="images")],
    )
    archive.add_endpoint(
        name="predict_png",
        fn=lambda png: classify(model, tf.map_fn(_decode_png, png, fn_output_signature=tf.uint8)),
        input_signature=[tf.TensorSpec([None], tf.string, name="png")],
    )
    with io.atomic_output(out_dir) as temp:
        archive.write_out(str(temp), verbose=False)


def export(
    *,
    model_path: str | Path,
    metrics_path: str | Path,
    out_dir: str | Path,
    blessing_path: str | Path,
    min_accuracy: float,
) -> dict[str, float | bool]:
    """Exports the model if its test accuracy passes the gate; records the verdict.

    Returns:
        The blessing: {"blessed", "test_accuracy", "min_accuracy"}.

    Raises:
        PipelineError: if the model is below the gate and there is no previous export to keep.
    """
    accuracy = json.loads(io.require(metrics_path, "evaluate").read_text())["test"]["accuracy"]
    blessing = {
        "blessed": accuracy >= min_accuracy,
        "test_accuracy": accuracy,
        "min_accuracy": min_accuracy,
    }
    if blessing["blessed"]:
        model = keras.models.load_model(io.require(model_path, "train"), safe_mode=True)
        export_saved_model(model, out_dir)
        logger.info("exported to %s (test accuracy %.4f >= %s)", out_dir, accuracy, min_accuracy)
    elif Path(out_dir).is_dir():
        logger.warning(
            "NOT EXPORTED: test accuracy %.4f is below evaluate.min_accuracy %s; %s keeps the "
            "previous export",
            accuracy,
            min_accuracy,
            out_dir,
        )
    else:
        raise PipelineError(
            f"export: test accuracy {accuracy:.4f} is below evaluate.min_accuracy "
            f"{min_accuracy} and no earlier model was exported to {out_dir}; improve the model "
            "or lower evaluate.min_accuracy in params.yaml"
        )
    io.write_json(blessing_path, blessing)
    return blessing

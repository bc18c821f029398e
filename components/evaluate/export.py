"""Export and push: the trained model as a TF Serving SavedModel, the next version.

The evaluate stage calls `push` for a blessed model (TFX's Pusher). A push writes the
serving folder's next number (components.evaluate.serving), atomically (a hidden temp
folder renamed into place), and never touches an earlier version, so a model server
watching the base folder picks up each push and can roll back to any earlier one.

The SavedModel's signatures take raw pixels, so the scaling to [0, 1] lives in the graph
and serving cannot drift from training:

- `serving_default`: `images`, uint8 [N, height, width] or [N, height, width, channels];
- `predict_png`: `png`, string [N] of encoded PNG images (any size, resized to the schema's);

both return `classes` (int64 [N]) and `probabilities` (float32 [N, classes]). Beside it, in
`assets.extra/`, the same model as a TFLite flatbuffer (components.evaluate.lite) and TF
Serving's warm-up requests (components.evaluate.warmup). Before the temp folder is renamed
into place, InfraValidator (components.evaluate.infra) loads it as mnist-serve would and
holds its answers to a probe: scoring's test examples, or examples the model answers here.

The TFLite conversion goes through a temporary SavedModel, as Keras's own LiteRT export
does: converting a Keras 3 model's concrete function directly drops its weights (they are
resource variables), and freezing it first takes TensorFlow's deprecated path.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from components.evaluate import infra, lite, serving, warmup
from pipeline import outputs, schema, transform
from pipeline.errors import environment_error

SIGNATURES = ("serving_default", "predict_png")
WARMUP_EXAMPLES = 4  # TF Serving runs each warm-up request at load: a few are enough


def classify(model: keras.Model, images: tf.Tensor, data: schema.Schema) -> dict[str, tf.Tensor]:
    """Raw uint8 pixels -> predicted classes and probabilities, scaled as preprocess does."""
    scaled = transform.scale_pixels_tf(tf.reshape(images, (-1, *data.image_shape)))
    probabilities = model(scaled, training=False)
    return {"classes": tf.argmax(probabilities, axis=1), "probabilities": probabilities}


def _decode_png(png: tf.Tensor, data: schema.Schema) -> tf.Tensor:
    image = tf.io.decode_png(png, channels=data.channels)
    resized = tf.image.resize(image, (data.height, data.width), antialias=True)
    return tf.cast(tf.round(resized), tf.uint8)


def tflite_bytes(model: keras.Model, data: schema.Schema) -> bytes:
    """`model`, raw uint8 pixels in and probabilities out, as a TFLite flatbuffer of
    builtin ops only (lite.SIGNATURE): images [N, height, width], or with the channels last
    where there are several."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    shape = [None, data.height, data.width, *([data.channels] if data.channels > 1 else [])]
    archive.add_endpoint(
        name=lite.SIGNATURE,
        fn=lambda images: {lite.OUTPUT: classify(model, images, data)["probabilities"]},
        input_signature=[tf.TensorSpec(shape, tf.uint8, name=lite.INPUT)],
    )
    with tempfile.TemporaryDirectory() as saved_model:
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, [lite.SIGNATURE])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        return converter.convert()


def _client_shaped(images: np.ndarray, data: schema.Schema) -> np.ndarray:
    """Images as a client sends them to `serving_default`: without a channels axis of one."""
    shape = data.image_shape if data.channels > 1 else data.image_shape[:2]
    return images.reshape(len(images), *shape)


def model_probe(model: keras.Model, data: schema.Schema) -> infra.Probe:
    """A probe for a push without scoring's test examples at hand (mnist-push): images of
    the schema's shape made from a fixed seed, with the classes the serving graph gives them
    on TensorFlow."""
    images = np.random.default_rng(0).integers(
        0, 256, (4 * infra.PROBE_SIZE, *data.image_shape), np.uint8
    )
    probabilities = classify(model, tf.constant(images), data)["probabilities"].numpy()
    return infra.Probe.of(images, probabilities)


def export_saved_model(
    model: keras.Model,
    out_dir: str | Path,
    data: schema.Schema,
    record: serving.PushRecord | None = None,
    probe: infra.Probe | None = None,
) -> None:
    """Writes `model` as a SavedModel with the raw-pixel and PNG signatures, as TFLite, with
    the dataset's schema (its image size and class names) and TF Serving's warm-up requests
    beside it, atomically, once InfraValidator has passed the files written.

    Args:
        record: if given, stored as the SavedModel's push record.
        probe: what the files must answer (infra.Probe); default: `model_probe`'s.

    Raises:
        PipelineError: if the files written fail InfraValidator; nothing is left of them.
    """
    probe = probe if probe is not None else model_probe(model, data)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda images: classify(model, images, data),
        input_signature=[tf.TensorSpec(None, tf.uint8, name="images")],
    )
    archive.add_endpoint(
        name="predict_png",
        fn=lambda png: classify(
            model,
            tf.map_fn(lambda one: _decode_png(one, data), png, fn_output_signature=tf.uint8),
            data,
        ),
        input_signature=[tf.TensorSpec([None], tf.string, name="png")],
    )
    with outputs.atomic_output(out_dir) as temp:
        archive.write_out(str(temp), verbose=False)
        (temp / serving.TFLITE_MODEL).parent.mkdir(exist_ok=True)
        (temp / serving.TFLITE_MODEL).write_bytes(tflite_bytes(model, data))
        schema.write_schema(temp / serving.SCHEMA, data)
        warmup.write_warmup(temp, _client_shaped(probe.images[:WARMUP_EXAMPLES], data))
        if record is not None:
            serving.write_push_record(temp, record)
        infra.validate(temp, Path(out_dir), probe)


def push(
    model: keras.Model,
    base: str | Path,
    record: serving.PushRecord,
    data: schema.Schema,
    probe: infra.Probe | None = None,
) -> Path:
    """Exports `model` as the next version under `base`, with its push record, once its
    files pass InfraValidator with `probe` (export_saved_model).

    Callers hold `base`'s push lock (serving.push_lock), so version numbers never collide.

    Returns:
        The new version folder.

    Raises:
        PipelineError: if the version fails InfraValidator; it is not pushed.
    """
    version = serving.next_version(base)
    try:
        export_saved_model(model, version, data, record, probe)
    except Exception as error:  # TensorFlow words a full or read-only disk without the file
        if (said := environment_error(error, where=str(version))) is None:
            raise
        raise said from None
    return version

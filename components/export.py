"""Export and push: the trained model as a TF Serving SavedModel, in numbered versions.

The evaluate stage calls `push` for a blessed model (TFX's Pusher). Pushed models live in
TF Serving's layout: one base folder (`models/serving`) holding a folder per version,
`1/`, `2/`, ..., each a complete SavedModel. A push writes the next number, atomically (a
hidden temp folder renamed into place), and never touches an earlier version, so a model
server watching the base folder picks up each push and can roll back to any earlier one.
Each version carries `assets.extra/push.json`: the SHA-256 of the `.keras` file it was
exported from and its test metrics when pushed.

The SavedModel's signatures take raw pixels, so the scaling to [0, 1] lives in the graph
and serving cannot drift from training:

- `serving_default`: `images`, uint8 [N, 28, 28] or [N, 28, 28, 1];
- `predict_png`: `png`, string [N] of encoded PNG digits (any size, resized to 28x28);

both return `classes` (int64 [N]) and `probabilities` (float32 [N, 10]).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from pipeline import io, schema, transform

logger = logging.getLogger(__name__)

SIGNATURES = ("serving_default", "predict_png")
PUSH_RECORD = Path("assets.extra") / "push.json"  # TF Serving ignores assets.extra/


def classify(model: keras.Model, images: tf.Tensor) -> dict[str, tf.Tensor]:
    """Raw uint8 pixels -> predicted classes and probabilities, scaled as preprocess does."""
    scaled = transform.scale_pixels_tf(tf.reshape(images, (-1, *schema.IMAGE_SHAPE)))
    probabilities = model(scaled, training=False)
    return {"classes": tf.argmax(probabilities, axis=1), "probabilities": probabilities}


def _decode_png(png: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_png(png, channels=1)
    resized = tf.image.resize(image, schema.IMAGE_SHAPE[:2], antialias=True)
    return tf.cast(tf.round(resized), tf.uint8)


def export_saved_model(
    model: keras.Model, out_dir: str | Path, record: dict[str, Any] | None = None
) -> None:
    """Writes `model` as a SavedModel with the raw-pixel and PNG signatures, atomically.

    Args:
        record: if given, stored in the SavedModel's `assets.extra/push.json`.
    """
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
    tf_logger = tf.get_logger()
    level = tf_logger.level
    with io.atomic_output(out_dir) as temp:
        tf_logger.setLevel(logging.WARNING)  # "Assets written to <temp>", twice: noise
        try:
            archive.write_out(str(temp), verbose=False)
        finally:
            tf_logger.setLevel(level)
        if record is not None:
            (temp / PUSH_RECORD).parent.mkdir()
            io.write_json(temp / PUSH_RECORD, record)


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def push_record(version: Path) -> dict[str, Any]:
    """What `push` recorded about a version; {} for a version pushed by other means."""
    path = version / PUSH_RECORD
    return json.loads(path.read_text()) if path.is_file() else {}


def serving_signature(version: Path) -> Any:
    """A pushed version's `serving_default`: uint8 `images` in, `probabilities` out."""
    return tf.saved_model.load(str(version)).signatures["serving_default"]


def remove_unfinished_pushes(base: str | Path) -> None:
    """Removes what a push killed mid-way left: a hidden temp folder, never a version.

    Callers hold `base`'s push lock, so no push is under way.
    """
    for stale in Path(base).glob(".*" + io.TMP_MARK + "*"):
        io.remove(stale)


def push(model: keras.Model, base: str | Path, record: dict[str, Any]) -> Path:
    """Exports `model` as the next version under `base`.

    Callers hold `base`'s push lock (see components.blessing), so version numbers never
    collide. `record` is stored in the version's `assets.extra/push.json`.

    Returns:
        The new version folder.
    """
    base = Path(base)
    latest = io.latest_version(base)
    version = base / str(int(latest.name) + 1 if latest else 1)
    export_saved_model(model, version, record)
    return version

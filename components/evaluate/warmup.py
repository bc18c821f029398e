"""TF Serving's warm-up file for a pushed version: `assets.extra/tf_serving_warmup_requests`.

TF Serving runs the first requests to a model slower than the rest (its graph is
initialised lazily); a SavedModel that carries this file is sent its requests at load,
before the version is marked AVAILABLE, so the first real client meets it warm. The file
is a TFRecord of `PredictionLog` protos, each a `PredictRequest` to `serving_default` with
a few examples as its `images`: one image alone (an online call) and the few together (a
batch). The protos are the `tensorflow-serving-api` package's own; the writer and tensors
TensorFlow's, which evaluate and mnist-push have loaded to export anyway. mnist-serve does
not read the file: LiteRT has no lazy start to warm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from components.evaluate import serving

WARMUP_FILE = serving.EXTRA / "tf_serving_warmup_requests"  # the name TF Serving reads
SIGNATURE, INPUT = "serving_default", "images"  # components.evaluate.export's


def write_warmup(version: Path, images: np.ndarray) -> None:
    """Writes `version`'s warm-up requests: `images` (uint8, the schema's shape) one alone,
    then all together.

    Args:
        version: a version folder (or a push's temp folder), its `assets.extra/` made here.
        images: a few examples; more than a handful only slow TF Serving's load.
    """
    import tensorflow as tf  # only exporting pays for TensorFlow
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    images = np.asarray(images, np.uint8)
    path = version / WARMUP_FILE
    path.parent.mkdir(exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for batch in (images[:1], images) if len(images) > 1 else (images,):
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(signature_name=SIGNATURE),
                inputs={INPUT: tf.make_tensor_proto(batch, dtype=tf.uint8)},
            )
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())

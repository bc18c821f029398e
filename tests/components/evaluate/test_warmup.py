"""TF Serving's warm-up file: PredictionLogs that TensorFlow reads back and the version's
SavedModel answers."""

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from components.evaluate import export, signatures, warmup
from tests.support.records import MNIST


def _requests(version):
    path = version / warmup.WARMUP_FILE
    return [
        prediction_log_pb2.PredictionLog.FromString(raw.numpy()).predict_log.request
        for raw in tf.data.TFRecordDataset(str(path))  # TensorFlow's reader checks the CRCs
    ]


def test_each_request_is_the_signatures_and_the_saved_model_answers_it(
    small_serving_dir, small_signatures
):
    version = small_serving_dir / "1"
    requests = _requests(version)
    assert [len(tf.make_ndarray(r.inputs[warmup.INPUT])) for r in requests] == [
        1,
        export.WARMUP_EXAMPLES,
    ]
    serving_default = signatures.signature_defs(version)[warmup.SIGNATURE]
    for request in requests:
        assert request.model_spec.signature_name == warmup.SIGNATURE
        assert set(request.inputs) == set(serving_default["inputs"])
        images = tf.make_ndarray(request.inputs[warmup.INPUT])
        assert images.dtype == np.uint8 and images.shape[1:] == MNIST.image_shape[:2]
        answer = small_signatures[warmup.SIGNATURE](images=tf.constant(images))
        assert answer["probabilities"].shape == (len(images), MNIST.num_classes)
        assert set(answer) == set(serving_default["outputs"])


def test_the_requests_hold_the_images_given(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 256
    warmup.write_warmup(tmp_path, images)
    requests = _requests(tmp_path)
    np.testing.assert_array_equal(tf.make_ndarray(requests[0].inputs["images"]), images[:1])
    np.testing.assert_array_equal(tf.make_ndarray(requests[1].inputs["images"]), images)

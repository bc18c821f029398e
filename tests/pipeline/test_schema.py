import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.example import example_pb2, feature_pb2

from pipeline import schema


def test_round_trip_raw_and_processed():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (3, *schema.IMAGE_SHAPE), dtype=np.uint8)
    records = [schema.encode_example(f"k{i}".encode(), raw[i], i + 7) for i in range(3)]
    parsed = schema.parse_batch(tf.constant(records), schema.RAW_DTYPE)
    assert parsed[schema.KEY].numpy().tolist() == [b"k0", b"k1", b"k2"]
    np.testing.assert_array_equal(parsed[schema.IMAGE].numpy(), raw)
    assert parsed[schema.LABEL].numpy().tolist() == [7, 8, 9]

    scaled = raw.astype(np.float32) / 255
    records = [schema.encode_example(b"k", scaled[0], 1)]
    parsed = schema.parse_batch(tf.constant(records), schema.PROCESSED_DTYPE)
    assert parsed[schema.IMAGE].dtype == tf.float32
    np.testing.assert_array_equal(parsed[schema.IMAGE].numpy()[0], scaled[0])


def test_encoding_is_deterministic():
    image = np.arange(784, dtype=np.uint8).reshape(schema.IMAGE_SHAPE)
    assert schema.encode_example(b"a", image, 3) == schema.encode_example(b"a", image.copy(), 3)


def _protobuf_encoding(key: bytes, image: np.ndarray, label: int) -> bytes:
    feature = feature_pb2.Feature
    example = example_pb2.Example(
        features=feature_pb2.Features(
            feature={
                schema.KEY: feature(bytes_list=feature_pb2.BytesList(value=[key])),
                schema.IMAGE: feature(bytes_list=feature_pb2.BytesList(value=[image.tobytes()])),
                schema.LABEL: feature(int64_list=feature_pb2.Int64List(value=[label])),
            }
        )
    )
    return example.SerializeToString(deterministic=True)


@pytest.mark.parametrize(
    ("key", "shape", "dtype", "label"),
    [
        (b"train-00042", schema.IMAGE_SHAPE, np.uint8, 7),
        (b"test-00000", schema.IMAGE_SHAPE, np.float32, 0),  # 3,136-byte image: 2-byte lengths
        (b"k" * 300, (5, 5), np.uint8, 2**40),  # long key, many-byte varint
        (b"", (0,), np.uint8, -1),  # empty key and image; negative label: 10-byte varint
    ],
)
def test_hand_encoding_matches_protobuf(key, shape, dtype, label):
    image = np.random.default_rng(1).random(shape).astype(dtype)
    assert schema.encode_example(key, image, label) == _protobuf_encoding(key, image, label)


def test_split_file_names():
    assert schema.split_file("train") == "train-00000-of-00001.tfrecord"
    assert schema.split_file("test", 2, 4) == "test-00002-of-00004.tfrecord"

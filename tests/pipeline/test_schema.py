import numpy as np
import tensorflow as tf

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


def test_split_file_names():
    assert schema.split_file("train") == "train-00000-of-00001.tfrecord"
    assert schema.split_file("test", 2, 4) == "test-00002-of-00004.tfrecord"

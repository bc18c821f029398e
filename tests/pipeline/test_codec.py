import numpy as np
import pytest
import tensorflow as tf
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st
from tensorflow.core.example import example_pb2, feature_pb2

from pipeline import codec, schema
from tests.support.fuzz import spoiled
from tests.support.records import MNIST, SCHEMAS, random_examples, tf_parse


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
def test_tensorflow_parses_what_we_encode(data):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (3, *data.image_shape), dtype=np.uint8)
    records = [codec.encode_example(f"k{i}".encode(), raw[i], i + 7) for i in range(3)]
    parsed = tf_parse(tf.constant(records), schema.RAW_DTYPE, data)
    assert parsed[schema.KEY].numpy().tolist() == [b"k0", b"k1", b"k2"]
    np.testing.assert_array_equal(parsed[schema.IMAGE].numpy(), raw)
    assert parsed[schema.LABEL].numpy().tolist() == [7, 8, 9]

    scaled = raw.astype(np.float32) / 255
    records = [codec.encode_example(b"k", scaled[0], 1)]
    parsed = tf_parse(tf.constant(records), schema.PROCESSED_DTYPE, data)
    np.testing.assert_array_equal(parsed[schema.IMAGE].numpy()[0], scaled[0])


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
@pytest.mark.parametrize("dtype", [schema.RAW_DTYPE, schema.PROCESSED_DTYPE])
def test_records_decode_back_to_the_schemas_shape_and_others_are_left_out(data, dtype):
    keys, images, labels = random_examples(data, "train", 5)
    images = images.astype(dtype)
    records = list(map(codec.encode_example, keys, images, labels))
    # A record of one pixel value short, and one of the other schema's size.
    other = next(s.image_shape for s in SCHEMAS.values() if s != data)
    records[1] = codec.encode_example(b"short", images[1].reshape(-1)[:-1], 1)
    records.append(codec.encode_example(b"other", np.zeros(other, dtype), 0))
    decoded, left_out = codec.decode_records(records, dtype, data.image_shape)
    assert left_out == [b"short", b"other"]
    kept = [0, 2, 3, 4]
    assert decoded.keys.tolist() == [keys[i] for i in kept]
    assert decoded.images.dtype == dtype and decoded.images.shape == (4, *data.image_shape)
    np.testing.assert_array_equal(decoded.images, images[kept])
    np.testing.assert_array_equal(decoded.labels, labels[kept])
    halves = [
        codec.decode_records(part, dtype, data.image_shape)[0]
        for part in (records[:2], records[2:])
    ]
    whole = codec.Examples.concatenate(halves, dtype, data.image_shape)
    np.testing.assert_array_equal(whole.images, decoded.images)
    none = codec.Examples.concatenate([], dtype, data.image_shape)
    assert none.images.shape == (0, *data.image_shape) and none.images.dtype == dtype


def test_decode_reads_what_tensorflow_encodes():
    image = np.random.default_rng(2).random(MNIST.image_shape).astype(np.float32)
    theirs = tf.train.Example(
        features=tf.train.Features(
            feature={
                "extra": tf.train.Feature(float_list=tf.train.FloatList(value=[1.5])),
                schema.LABEL: tf.train.Feature(int64_list=tf.train.Int64List(value=[-4])),
                schema.KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"k"])),
                schema.IMAGE: tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[image.tobytes()])
                ),
            }
        )
    )
    # Not deterministic: map entries in any order, plus a feature the schema does not know.
    assert codec.decode_example(theirs.SerializeToString()) == (b"k", image.tobytes(), -4)


def _example(**features: tf.train.Feature) -> bytes:
    example_proto = tf.train.Example(features=tf.train.Features(feature=features))
    return example_proto.SerializeToString(deterministic=True)  # stable test ids


_ONE_BYTES = tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x"]))
_ONE_INT = tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (b"this is not a serialised tf.train.Example", "not a protobuf message"),
        (_example(key=_ONE_BYTES, image=_ONE_BYTES), "feature 'label' is missing"),
        (_example(key=_ONE_BYTES, image=_ONE_INT, label=_ONE_INT), "'image' is not a bytes_list"),
        (
            _example(
                key=tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a", b"b"])),
                image=_ONE_BYTES,
                label=_ONE_INT,
            ),
            "'key' has 2 values, not 1",
        ),
    ],
)
def test_decode_names_what_is_wrong(record, message):
    with pytest.raises(ValueError, match=message):
        codec.decode_example(record)
    with pytest.raises(tf.errors.InvalidArgumentError):  # TensorFlow refuses them too
        tf_parse(tf.constant([record]), schema.RAW_DTYPE, MNIST)


def test_encoding_is_deterministic():
    image = np.arange(784, dtype=np.uint8).reshape(MNIST.image_shape)
    assert codec.encode_example(b"a", image, 3) == codec.encode_example(b"a", image.copy(), 3)


def _protobuf_encoding(key: bytes, image: np.ndarray, label: int) -> bytes:
    feature = feature_pb2.Feature
    theirs = example_pb2.Example(
        features=feature_pb2.Features(
            feature={
                schema.KEY: feature(bytes_list=feature_pb2.BytesList(value=[key])),
                schema.IMAGE: feature(bytes_list=feature_pb2.BytesList(value=[image.tobytes()])),
                schema.LABEL: feature(int64_list=feature_pb2.Int64List(value=[label])),
            }
        )
    )
    return theirs.SerializeToString(deterministic=True)


@pytest.mark.parametrize(
    ("key", "shape", "dtype", "label"),
    [
        (b"train-00042", MNIST.image_shape, np.uint8, 7),
        (b"test-00000", MNIST.image_shape, np.float32, 0),  # 3,136-byte image: 2-byte lengths
        (b"train/cat/0001.png", (12, 10, 3), np.uint8, 3),  # a folder dataset's key, RGB
        (b"k" * 300, (5, 5), np.uint8, 2**40),  # long key, many-byte varint
        (b"", (0,), np.uint8, -1),  # empty key and image; negative label: 10-byte varint
    ],
)
def test_hand_encoding_matches_protobuf(key, shape, dtype, label):
    image = np.random.default_rng(1).random(shape).astype(dtype)
    assert codec.encode_example(key, image, label) == _protobuf_encoding(key, image, label)


# ---- fuzzing the codec, against TensorFlow's parser (the one serving and training use) ----

_INT64 = st.integers(-(2**63), 2**63 - 1)
_SPEC = {
    schema.KEY: tf.io.FixedLenFeature([], tf.string),
    schema.IMAGE: tf.io.FixedLenFeature([], tf.string),
    schema.LABEL: tf.io.FixedLenFeature([], tf.int64),
}


def _tensorflows(record: bytes) -> tuple | None:
    try:
        parsed = tf.io.parse_example(tf.constant([record]), _SPEC)
    except (tf.errors.InvalidArgumentError, UnicodeDecodeError):
        # TensorFlow builds some of its error messages from the record's bytes and fails to
        # decode them as UTF-8: a refusal too (pipeline.dataset.checked catches both).
        return None
    return tuple(parsed[name].numpy()[0] for name in (schema.KEY, schema.IMAGE, schema.LABEL))


def _ours(record: bytes) -> tuple | None:
    try:
        return codec.decode_example(record)
    except ValueError:
        return None


def _feature(kind: str, values: list) -> feature_pb2.Feature:
    lists = {
        "bytes_list": feature_pb2.BytesList,
        "int64_list": feature_pb2.Int64List,
        "float_list": feature_pb2.FloatList,
    }
    return (
        feature_pb2.Feature(**{kind: lists[kind](value=values)}) if kind else feature_pb2.Feature()
    )


features = st.one_of(
    st.builds(_feature, st.just("bytes_list"), st.lists(st.binary(max_size=8), max_size=3)),
    st.builds(_feature, st.just("int64_list"), st.lists(_INT64, max_size=3)),
    st.builds(_feature, st.just("float_list"), st.lists(st.floats(width=32), max_size=3)),
    st.builds(_feature, st.just(""), st.just([])),
)
entries = st.lists(
    st.tuples(st.sampled_from([schema.KEY, schema.IMAGE, schema.LABEL, "other", ""]), features),
    max_size=5,
)


def _concatenated(entries: list) -> bytes:
    # Examples of one feature each, concatenated: one Example on the wire, with repeated
    # map entries (the last one wins) where a name comes twice.
    return b"".join(
        example_pb2.Example(
            features=feature_pb2.Features(feature={name: value})
        ).SerializeToString()
        for name, value in entries
    )


_VALID = codec.encode_example(b"train-00042", np.arange(784, dtype=np.uint8) % 7, 3)
_SMALL = codec.encode_example(b"k", np.zeros(3, np.uint8), 1)
records = st.one_of(
    st.binary(max_size=80),
    st.builds(_concatenated, entries),
    spoiled(st.sampled_from([_VALID, _SMALL]), reach=900),
)


@given(records)
def test_any_payload_decodes_as_tensorflow_parses_it_or_is_refused(record):
    ours, tensorflows = _ours(record), _tensorflows(record)
    if ours is not None:
        assert ours == tensorflows
    elif tensorflows is not None:
        # Refused here, parsed by TensorFlow: only where the wire format itself is broken
        # (a length running past the end of its message), which TensorFlow's fast parser
        # lets through and the protobuf runtime, the format's reference, rejects.
        with pytest.raises(DecodeError):
            codec.Example.FromString(record)


@given(st.binary(max_size=64), st.binary(max_size=3200), _INT64)
def test_encoding_is_protobufs_and_decodes_back(key, image, label):
    pixels = np.frombuffer(image, np.uint8)
    record = codec.encode_example(key, pixels, label)
    assert record == _protobuf_encoding(key, pixels, label)
    assert codec.decode_example(record) == _tensorflows(record) == (key, image, label)


@pytest.mark.parametrize("label", [2**63, -(2**63) - 1, 3.0, "3", True])
def test_encoding_refuses_a_label_that_is_not_an_int64(label):
    with pytest.raises(ValueError, match="label"):
        codec.encode_example(b"k", np.zeros(784, np.uint8), label)

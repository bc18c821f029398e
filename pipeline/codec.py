"""The record codec: tf.train.Example's wire format for the schema's records, without
importing TensorFlow.

Stages that only move records (preprocess) skip TensorFlow's import and its memory;
every stage holds decoded records as `Examples`, made by `decode_records` alone;
tests check both directions against TensorFlow's own serialiser and parser.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from pipeline.schema import IMAGE, KEY, LABEL

_UINT64_MASK = 2**64 - 1  # an int64 varint is its two's complement as uint64


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL_VARINTS = [_encode_varint(n) for n in range(1 << 14)]  # every length in a record


def _varint(value: int) -> bytes:
    return _SMALL_VARINTS[value] if value < len(_SMALL_VARINTS) else _encode_varint(value)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited protobuf field: tag, varint length, payload."""
    return tag + _varint(len(payload)) + payload


# Wire-format tags (field number << 3 | 2, length-delimited) of the fields an Example uses.
_FIELD_1, _FIELD_2, _FIELD_3 = b"\x0a", b"\x12", b"\x1a"
_BYTES_LIST, _INT64_LIST = _FIELD_1, _FIELD_3  # Feature's oneof: bytes_list=1, int64_list=3
_NAMES = {name: _field(_FIELD_1, name.encode()) for name in (KEY, IMAGE, LABEL)}


def _feature_entry(name: str, kind: bytes, value: bytes) -> bytes:
    # One map<string, Feature> entry: field 1 the name, field 2 the Feature, whose list
    # holds one value (field 1; an Int64List packs its varints).
    feature = _field(kind, _field(_FIELD_1, value))
    return _field(_FIELD_1, _NAMES[name] + _field(_FIELD_2, feature))


@functools.lru_cache(maxsize=256)
def _bytes_entry_head(name: str, length: int) -> bytes:
    """A one-value bytes feature entry up to its value: it depends only on the value's length."""
    entry = _feature_entry(name, _BYTES_LIST, bytes(length))
    return entry[: len(entry) - length]


@functools.lru_cache(maxsize=256)
def _label_entry(label: int) -> bytes:
    return _feature_entry(LABEL, _INT64_LIST, _varint(label & _UINT64_MASK))


def _int64(label: Any) -> int:
    if isinstance(label, bool) or not isinstance(label, int | np.integer):
        raise ValueError(f"label {label!r} is not an integer")
    if not -(2**63) <= label < 2**63:
        raise ValueError(f"label {label} does not fit an int64")
    return int(label)


def encode_example(key: bytes, image: np.ndarray, label: int) -> bytes:
    """Serialises one example as a tf.train.Example, deterministically.

    Writes the protobuf wire format directly, byte for byte what
    `Example.SerializeToString(deterministic=True)` gives (map entries sorted by name;
    tests compare the two), much faster than building the proto objects: that was the
    largest cost in preprocess's profile. Everything around the key and pixels is cached,
    so a record costs one copy of its pixels.

    Raises:
        ValueError: for a label that is not an integer within int64.
    """
    pixels = image.tobytes()
    parts = (
        _bytes_entry_head(IMAGE, len(pixels)),
        pixels,
        _bytes_entry_head(KEY, len(key)),
        key,
        _label_entry(_int64(label)),
    )
    return b"".join((_FIELD_1, _varint(sum(map(len, parts))), *parts))


def _example_class() -> type:
    """tf.train.Example as a protobuf class, built from its schema without importing TF.

    The messages and field numbers of tensorflow/core/example/{example,feature}.proto, in a
    private descriptor pool (TensorFlow's own, if loaded, is left alone).
    """
    f = descriptor_pb2.FieldDescriptorProto
    many, one, nested = f.LABEL_REPEATED, f.LABEL_OPTIONAL, f.TYPE_MESSAGE
    messages = {  # message: [(field, number, label, type, message type)]
        "BytesList": [("value", 1, many, f.TYPE_BYTES, "")],
        "FloatList": [("value", 1, many, f.TYPE_FLOAT, "")],
        "Int64List": [("value", 1, many, f.TYPE_INT64, "")],
        "Feature": [
            ("bytes_list", 1, one, nested, "BytesList"),
            ("float_list", 2, one, nested, "FloatList"),
            ("int64_list", 3, one, nested, "Int64List"),
        ],
        "Features": [("feature", 1, many, nested, "Features.FeatureEntry")],
        "Features.FeatureEntry": [
            ("key", 1, one, f.TYPE_STRING, ""),
            ("value", 2, one, nested, "Feature"),
        ],
        "Example": [("features", 1, one, nested, "Features")],
    }
    proto = descriptor_pb2.FileDescriptorProto(
        name="mnist_pipeline/example.proto", package="tensorflow", syntax="proto3"
    )
    added = {}
    for name, fields in messages.items():
        parent, _, own_name = name.rpartition(".")
        added[name] = (added[parent].nested_type if parent else proto.message_type).add(
            name=own_name
        )
        for field, number, label, kind, type_name in fields:
            added[name].field.add(name=field, number=number, label=label, type=kind)
            if type_name:
                added[name].field[-1].type_name = f".tensorflow.{type_name}"
    added["Feature"].oneof_decl.add(name="kind")
    for field in added["Feature"].field:
        field.oneof_index = 0
    added["Features.FeatureEntry"].options.map_entry = True  # map<string, Feature>
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.Example"))


Example = _example_class()


def _single(features: Any, name: str, kind: str) -> Any:
    if name not in features:
        raise ValueError(f"feature '{name}' is missing")
    feature = features[name]
    if feature.WhichOneof("kind") != kind:
        raise ValueError(f"feature '{name}' is not a {kind}")
    values = getattr(feature, kind).value
    if len(values) != 1:
        raise ValueError(f"feature '{name}' has {len(values)} values, not 1")
    return values[0]


def decode_example(record: bytes) -> tuple[bytes, bytes, int]:
    """Parses one serialised tf.train.Example into (key, image bytes, label).

    Features beyond the schema's are ignored, as tf.io.parse_example ignores them.

    Raises:
        ValueError: naming what is wrong: not an Example, or a feature missing, of the
            wrong kind, or not holding exactly one value.
    """
    try:
        features = Example.FromString(record).features.feature
    except DecodeError:
        raise ValueError("not a protobuf message") from None
    # The common case in one pass; reading a missing map key yields an empty Feature, so
    # any surprise falls through to the checks that name it.
    key, image = features[KEY].bytes_list.value, features[IMAGE].bytes_list.value
    label = features[LABEL].int64_list.value
    if len(key) == len(image) == len(label) == 1:
        return key[0], image[0], label[0]
    features = Example.FromString(record).features.feature
    return (
        _single(features, KEY, "bytes_list"),
        _single(features, IMAGE, "bytes_list"),
        _single(features, LABEL, "int64_list"),
    )


class Examples(NamedTuple):
    """Decoded records as arrays: what every stage holds, a Beam batch or a whole split."""

    keys: np.ndarray  # [N] bytes objects
    images: np.ndarray  # [N, height, width, channels], the stage's dtype
    labels: np.ndarray  # [N] int64

    def take(self, mask: np.ndarray) -> Examples:
        return Examples(self.keys[mask], self.images[mask], self.labels[mask])

    @classmethod
    def concatenate(
        cls, parts: Iterable[Examples], dtype: np.dtype, shape: tuple[int, ...]
    ) -> Examples:
        """The parts as one batch; an empty one of images of `shape` if there are none."""
        parts = list(parts)
        if not parts:
            empty = np.zeros((0, *shape), dtype)
            return cls(np.zeros(0, object), empty, np.zeros(0, np.int64))
        return cls(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def decode_records(
    records: list[bytes], dtype: np.dtype, shape: tuple[int, ...]
) -> tuple[Examples, list[bytes]]:
    """Parses records into arrays, leaving out the images that are not of `shape` (the
    schema's height, width and channels).

    Returns:
        The examples, and the keys of the records left out.

    Raises:
        ValueError: for a record that is not an Example of the schema.
    """
    decoded = [decode_example(record) for record in records]
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    keys = np.array([key for key, _, _ in decoded], object)
    fits = np.array([len(image) == size for _, image, _ in decoded], bool)
    pixels = b"".join(image for (_, image, _), fit in zip(decoded, fits, strict=True) if fit)
    labels = np.array([label for _, _, label in decoded], np.int64)
    examples = Examples(keys[fits], np.frombuffer(pixels, dtype).reshape(-1, *shape), labels[fits])
    return examples, keys[~fits].tolist()

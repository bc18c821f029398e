import dataclasses
import struct

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from pipeline import artifacts, codec, dataset, schema, stats, tfrecord
from pipeline.errors import PipelineError, shown_path
from tests.support.fuzz import spoiled
from tests.support.records import MNIST, PETS, SCHEMAS

N = 1_000


def _split(data=MNIST):
    # Every image is filled with its own label-like id, so batches show what went where.
    ids = np.arange(N)
    shape = (N, *data.image_shape)
    images = np.broadcast_to(ids[:, None, None, None] / N, shape).astype(np.float32)
    return images, ids.astype(np.int64)


def _epoch(data):
    images, labels = zip(*((i.numpy(), y.numpy()) for i, y in data), strict=True)
    return np.concatenate(images), np.concatenate(labels)


def _report(folder):
    """Where a failed read's anomalies are listed: beside the records the test made."""
    return folder / "anomalies.json"


def _shards(tmp_path, shards: int = 3, data=MNIST) -> dataset.SplitInput:
    """The `_split` examples (labels taken modulo the classes) written round-robin to
    `shards` files; record i of the interleaved read is example i."""
    images, ids = _split(data)
    files = [str(tmp_path / schema.split_file(schema.TRAIN, s, shards)) for s in range(shards)]
    for s, file in enumerate(files):
        tfrecord.write_tfrecords(
            file,
            (
                codec.encode_example(str(i).encode(), images[i], ids[i] % data.num_classes)
                for i in range(s, N, shards)
            ),
        )
    return dataset.SplitInput(files, N, data)


def test_unshuffled_keeps_order_and_batch_sizes():
    data = dataset.make_dataset(*_split(), batch_size=300)
    assert [len(y) for _, y in data] == [300, 300, 300, 100]
    images, labels = _epoch(data)
    np.testing.assert_array_equal(labels, np.arange(N))
    np.testing.assert_array_equal(images[:, 0, 0, 0], (labels / N).astype(np.float32))


def test_shuffle_is_a_seeded_permutation_each_epoch():
    data = dataset.make_dataset(*_split(), batch_size=128, shuffle_buffer=200, seed=7)
    first_images, first = _epoch(data)
    _, second = _epoch(data)
    assert sorted(first.tolist()) == list(range(N)) == sorted(second.tolist())
    np.testing.assert_array_equal(first_images[:, 27, 27, 0], (first / N).astype(np.float32))
    assert not np.array_equal(first, second)  # reshuffled every epoch
    _, again = _epoch(dataset.make_dataset(*_split(), batch_size=128, shuffle_buffer=200, seed=7))
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
def test_shards_interleave_record_by_record_and_load_in_that_order(tmp_path, data):
    images, labels = dataset.load(_shards(tmp_path, data=data))
    expected_images, ids = _split(data)
    assert images.shape == (N, *data.image_shape)
    np.testing.assert_array_equal(labels, ids % data.num_classes)
    np.testing.assert_array_equal(images, expected_images)


def test_picked_reads_the_keys_and_images_at_positions_in_file_order(tmp_path):
    # Positions count records as the shards interleave, not within a shard.
    split = _shards(tmp_path)
    keys, images = dataset.picked(split, np.array([999, 0, 412, 3]), np.array([412, 0]))
    assert keys == {i: str(i).encode() for i in (0, 3, 412, 999)}
    assert sorted(images) == [0, 412]
    expected, _ = _split()
    for i, image in images.items():
        np.testing.assert_array_equal(image, expected[i])
    assert dataset.picked(split, np.array([], np.int64), np.array([], np.int64)) == ({}, {})


def test_streamed_and_in_memory_training_batches_are_the_same(tmp_path):
    # The same seeded shuffle over records (streamed) and over indices (in memory): the
    # cache changes the speed, never a batch.
    split = _shards(tmp_path)
    options = {"batch_size": 64, "shuffle_buffer": 300, "seed": 5}
    streamed = dataset.shuffled_batches(split, **options)
    in_memory = dataset.make_dataset(*dataset.load(split), **options)
    for _ in range(2):  # and each epoch's reshuffle
        for (a_images, a_labels), (b_images, b_labels) in zip(streamed, in_memory, strict=True):
            np.testing.assert_array_equal(a_labels, b_labels)
            np.testing.assert_array_equal(a_images, b_images)
    assert len(streamed) == len(in_memory) == -(-N // 64)


def _bad_record(kind: str, data=MNIST) -> bytes:
    image = np.zeros(data.image_shape, np.float32)
    if kind == "nan":
        image[3, 3, -1] = np.nan
    if kind == "above_one":
        image[0, 0, 0] = 1.5
    if kind == "short_image":
        image = image.reshape(-1)[:-1]
    if kind == "other_schemas_image":
        image = np.zeros(next(s for s in SCHEMAS.values() if s != data).image_shape, np.float32)
    label = {"label_past_the_last": data.num_classes, "label_negative": -1}.get(kind, 1)
    return codec.encode_example(b"k", image, label)


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
@pytest.mark.parametrize(
    "kind",
    [
        "nan",
        "above_one",
        "short_image",
        "other_schemas_image",
        "label_past_the_last",
        "label_negative",
        "not_an_example",
    ],
)
def test_parsing_checks_each_record_against_the_schema(kind, data):
    record = b"not an Example" if kind == "not_an_example" else _bad_record(kind, data)
    last = codec.encode_example(b"g", np.ones(data.image_shape, np.float32), data.num_classes - 1)
    with pytest.raises(tf.errors.InvalidArgumentError):
        dataset.parse_batch(tf.constant([last, record]), data)
    images, labels = dataset.parse_batch(tf.constant([last, last]), data)
    assert images.shape == (2, *data.image_shape)
    assert labels.numpy().tolist() == [data.num_classes - 1] * 2


def test_a_bad_record_is_one_error_naming_its_file(tmp_path):
    split = _shards(tmp_path)
    records = list(tfrecord.read_tfrecords(split.files[1]))
    records[7] = _bad_record("nan")
    tfrecord.write_tfrecords(split.files[1], records)
    with (
        pytest.raises(PipelineError) as error,
        dataset.reading("train", tmp_path, ("train",), MNIST, report=_report(tmp_path)),
    ):
        _epoch(dataset.batches(split, batch_size=100))
    assert f"{split.files[1]}: 1 pixels are NaN" in str(error.value)
    assert str(error.value).endswith(f"; all listed in {shown_path(_report(tmp_path))}")
    assert "1 pixels are NaN" in _report(tmp_path).read_text()


def test_a_record_of_another_schemas_size_is_named_by_its_file(tmp_path):
    split = _shards(tmp_path, data=PETS)
    records = list(tfrecord.read_tfrecords(split.files[0]))
    records[2] = _bad_record("other_schemas_image", PETS)
    tfrecord.write_tfrecords(split.files[0], records)
    with (
        pytest.raises(PipelineError) as error,
        dataset.reading("evaluate", tmp_path, ("train",), PETS, report=_report(tmp_path)),
    ):
        _epoch(dataset.batches(split, batch_size=100))
    assert f"{split.files[0]}: 1 images are not (12, 10, 3) (keys b'k')" in str(error.value)


def test_a_split_shorter_than_its_stats_says_so(tmp_path):
    split = _shards(tmp_path)
    longer = dataclasses.replace(split, count=N + 1)
    with (
        pytest.raises(PipelineError, match=r"expected to contain 1001 elements.*re-run preprocess"),
        dataset.reading("train", tmp_path, ("train",), MNIST, report=_report(tmp_path)),
    ):
        _epoch(dataset.batches(longer, batch_size=100))


def test_a_hostile_record_tensorflow_cannot_even_describe_is_named_too(tmp_path):
    # TensorFlow builds its error from the record's bytes and fails to decode them as UTF-8
    # (UnicodeDecodeError, not an OpError): still one error naming the file.
    split = _shards(tmp_path)
    records = list(tfrecord.read_tfrecords(split.files[2]))
    records[0] = b"\x80\xff not an Example"
    tfrecord.write_tfrecords(split.files[2], records)
    named = r"train-00002-of-00003\.tfrecord holds a record that is not a pipeline\.schema"
    with (
        pytest.raises(PipelineError, match=named),
        dataset.reading("evaluate", tmp_path, ("train",), MNIST, report=_report(tmp_path)),
    ):
        _epoch(dataset.batches(split, batch_size=100))


def _stats(directory, split: str, records: int) -> None:
    split_stats = stats.SplitStats(records, records, (records // 10,) * 10, (0.1,), (0.3,))
    (directory / artifacts.STATS_FILE).write_text(stats.dumps({split: split_stats}))


def test_a_split_is_read_once_its_framing_and_count_are_checked(tmp_path):
    split = _shards(tmp_path)
    _stats(tmp_path, "train", N)
    assert dataset.split_input(tmp_path, "train", MNIST) == split
    assert split.image_bytes == 28 * 28 * 4  # float32 pixels
    _stats(tmp_path, "train", 300_000_000)  # would have made train allocate 876 GiB
    said = r"train: its files hold 1000 records and .*stats.json says 300000000; re-run"
    with pytest.raises(PipelineError, match=said):
        dataset.split_input(tmp_path, "train", MNIST)


def _header_claiming(length: int) -> bytes:
    """A record header with a valid CRC, saying the record holds `length` bytes."""
    head = struct.pack("<Q", length)
    return head + tfrecord._masked_crc(head)


def test_a_length_tensorflow_would_trust_is_refused_before_it_reads(tmp_path):
    files = _shards(tmp_path).files
    _stats(tmp_path, "train", N)
    with open(files[2], "ab") as file:
        file.write(_header_claiming(2**40))  # TensorFlow's reader dies on it with SIGSEGV
    with pytest.raises(PipelineError) as error:
        dataset.split_input(tmp_path, "train", MNIST)
    said = str(error.value)
    assert said.startswith(f"{files[2]} is truncated or corrupted (a record at byte ")
    assert "says it holds 1099511627776 bytes" in said and "re-run preprocess" in said


def _one_shard(folder, count: int = 20) -> bytes:
    images = np.full((count, *MNIST.image_shape), 0.5, np.float32)
    path = folder / schema.split_file(schema.TEST)
    tfrecord.write_tfrecords(
        path, (codec.encode_example(b"k%d" % i, images[i], i % 10) for i in range(count))
    )
    return path.read_bytes()


@given(st.data())
def test_any_bytes_in_a_shard_read_through_tensorflow_or_fail_in_one_line(tmp_path_factory, data):
    # The path evaluate and train read through tf.data, end to end: whatever the bytes, a
    # result or a PipelineError, never a crash (a crash would take this worker with it).
    folder = tmp_path_factory.mktemp("shard")
    valid = _one_shard(folder)
    spoilt = data.draw(spoiled(st.just(valid), reach=len(valid)))
    (folder / schema.split_file(schema.TEST)).write_bytes(spoilt)
    _stats(folder, schema.TEST, 20)
    try:
        split = dataset.split_input(folder, schema.TEST, MNIST)
        with dataset.reading("evaluate", folder, (schema.TEST,), MNIST, report=_report(folder)):
            images, labels = _epoch(dataset.batches(split, batch_size=8))
    except PipelineError as error:
        assert "\n" not in str(error)
    else:
        assert images.shape == (20, *MNIST.image_shape) and len(labels) == 20

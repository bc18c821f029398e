import io as pyio
import struct

import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from pipeline import tfrecord
from pipeline.errors import PipelineError
from tests.support.fuzz import spoiled


def test_split_files_names_the_missing_split(tmp_path):
    with pytest.raises(PipelineError, match=r"no 'validation' records in .*dvc repro"):
        tfrecord.split_files(tmp_path, "validation")


def test_write_tfrecords_matches_tensorflow_writer(tmp_path):
    records = [b"", b"x", bytes(range(256)) * 40]
    ours, theirs = tmp_path / "ours.tfrecord", tmp_path / "theirs.tfrecord"
    assert tfrecord.write_tfrecords(ours, records) == 3
    with tf.io.TFRecordWriter(str(theirs)) as writer:
        for record in records:
            writer.write(record)
    assert ours.read_bytes() == theirs.read_bytes()
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(ours))] == records


def test_read_tfrecords_reads_what_tensorflow_wrote(tmp_path):
    records = [b"", b"x", bytes(range(256)) * 40]
    path = tmp_path / "theirs.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    assert list(tfrecord.read_tfrecords(path)) == records


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[:-1], "a record at byte 17 says it holds 13 bytes; the file has 12"),
        (lambda data: data[:20], "a bad record header at byte 17"),
        (lambda data: data[:30] + bytes([data[30] ^ 1]) + data[31:], "corrupted record at byte 17"),
        (lambda data: data[:19] + b"\x01" + data[20:], "a bad record header at byte 17"),
    ],
)
def test_read_tfrecords_catches_damage(tmp_path, damage, message):
    path = tmp_path / "r.tfrecord"
    tfrecord.write_tfrecords(path, [b"x", b"second record"])  # the second starts at byte 17
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(tfrecord.CorruptRecordsError, match=message):
        list(tfrecord.read_tfrecords(path))


# ---- fuzzing the TFRecord framing, against TensorFlow's reader ----

_HEADER = 12  # length (8 bytes) and its masked CRC (4)


def _framed(records: list[bytes]) -> bytes:
    buffer = pyio.BytesIO()
    tfrecord.write_tfrecords(buffer, records)
    return buffer.getvalue()


def _ours(path) -> tuple[list[bytes], bool]:
    read = []
    try:
        read.extend(tfrecord.read_tfrecords(path))
    except tfrecord.CorruptRecordsError:
        return read, False
    return read, True


def _tensorflows(path) -> tuple[list[bytes], bool]:
    read = []
    try:
        read.extend(record.numpy() for record in tf.data.TFRecordDataset(str(path)))
    except tf.errors.OpError:
        return read, False
    return read, True


records_lists = st.lists(st.binary(max_size=64), max_size=5)
files = st.one_of(
    st.binary(max_size=120),  # anything at all
    spoiled(st.builds(_framed, records_lists), reach=400),  # real framing, spoiled
)


@given(records_lists)
def test_what_we_write_tensorflow_reads_and_so_do_we(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("fuzz") / "r.tfrecord"
    tfrecord.write_tfrecords(path, records)
    assert _tensorflows(path) == _ours(path) == (records, True)


@given(files)
def test_any_file_reads_as_tensorflow_reads_it_or_stricter(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "r.tfrecord"
    path.write_bytes(data)
    ours, tensorflows = _ours(path), _tensorflows(path)
    if ours != tensorflows:
        # The one deliberate difference: a file cut inside a record's header. TensorFlow
        # takes the partial header for the end of the file and drops the record without a
        # word; a truncation anywhere is an error here.
        read, _ = tensorflows
        left = len(data) - sum(_HEADER + 4 + len(record) for record in read)
        assert tensorflows == (read, True) and ours == (read, False) and 0 < left < _HEADER


@given(st.integers(2**20, 2**64 - 1), st.binary(max_size=64), st.booleans())
def test_a_huge_length_is_refused_without_allocating_it(length, rest, seekable):
    # A header whose CRC is right but whose length is not: trusted only as far as the bytes go.
    head = struct.pack("<Q", length)
    data = _framed([b"ok"]) + head + tfrecord._masked_crc(head) + rest

    class Stream(pyio.BytesIO):  # Beam hands over file objects that may not seek
        def seekable(self) -> bool:
            return seekable

    with pytest.raises(tfrecord.CorruptRecordsError, match=r"at byte 18"):
        list(tfrecord.read_tfrecords(Stream(data)))


@given(spoiled(st.lists(st.binary(max_size=40), max_size=5).map(_framed), reach=300))
def test_counting_by_headers_agrees_with_the_reader_on_the_framing(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("count") / "x.tfrecord"
    path.write_bytes(data)
    try:
        read = len(list(tfrecord.read_tfrecords(path)))
    except tfrecord.CorruptRecordsError:
        read = None  # the reader checks the data's CRCs too: the count may still succeed
    try:
        counted = tfrecord.count_records(path)
    except tfrecord.CorruptRecordsError:
        assert read is None  # what the count refuses, the reader refuses
    else:
        assert read in (None, counted)

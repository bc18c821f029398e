import pytest

from pipeline import io
from pipeline.errors import PipelineError


def test_atomic_output_replaces_folder_on_success(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with io.atomic_output(out) as temp:
        assert not temp.exists() and temp.parent == tmp_path
        temp.mkdir()
        (temp / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in out.iterdir()] == ["new.txt"]


def test_atomic_output_keeps_old_output_on_failure(tmp_path):
    out = tmp_path / "metrics.json"
    out.write_text("old")
    with pytest.raises(RuntimeError), io.atomic_output(out) as temp:
        temp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_atomic_output_removes_temps_of_killed_runs(tmp_path):
    stale = tmp_path / ".out.tmp-99999"
    stale.mkdir()
    with io.atomic_output(tmp_path / "out") as temp:
        temp.write_text("x")
    assert not stale.exists()


def test_write_json_is_sorted_and_stable(tmp_path):
    io.write_json(tmp_path / "m.json", {"b": 1, "a": {"d": 2, "c": 3}})
    assert (tmp_path / "m.json").read_text() == (
        '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'
    )


def test_split_files_names_the_missing_split(tmp_path):
    with pytest.raises(PipelineError, match=r"no 'validation' records in .*dvc repro"):
        io.split_files(tmp_path, "validation")


def test_write_tfrecords_matches_tensorflow_writer(tmp_path):
    import tensorflow as tf

    records = [b"", b"x", bytes(range(256)) * 40]
    ours, theirs = tmp_path / "ours.tfrecord", tmp_path / "theirs.tfrecord"
    assert io.write_tfrecords(ours, records) == 3
    with tf.io.TFRecordWriter(str(theirs)) as writer:
        for record in records:
            writer.write(record)
    assert ours.read_bytes() == theirs.read_bytes()
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(ours))] == records


def test_read_tfrecords_reads_what_tensorflow_wrote(tmp_path):
    import tensorflow as tf

    records = [b"", b"x", bytes(range(256)) * 40]
    path = tmp_path / "theirs.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    assert list(io.read_tfrecords(path)) == records


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[:-1], "a truncated or corrupted record at byte 17"),
        (lambda data: data[:20], "a bad record header at byte 17"),
        (lambda data: data[:30] + bytes([data[30] ^ 1]) + data[31:], "corrupted record at byte 17"),
        (lambda data: data[:19] + b"\x01" + data[20:], "a bad record header at byte 17"),
    ],
)
def test_read_tfrecords_catches_damage(tmp_path, damage, message):
    path = tmp_path / "r.tfrecord"
    io.write_tfrecords(path, [b"x", b"second record"])  # the second starts at byte 17
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(io.CorruptRecordsError, match=message):
        list(io.read_tfrecords(path))

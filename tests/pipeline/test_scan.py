import numpy as np
import pytest

from pipeline import codec, scan, schema, tfrecord
from pipeline.errors import PipelineError
from tests.support.records import MNIST, PETS

ALL = list(range(10))


def _check(folder, data):
    """Ingest's check of its splits, any anomalies listed in a report beside them."""
    report = folder / "anomalies.json"
    return scan.check_split_dir("ingest", folder, ("train", "test"), data, report=report)


def _write(folder, split, keys, labels, shard=0, shards=1, data=MNIST):
    images = np.zeros((len(keys), *data.image_shape), np.uint8)
    records = map(codec.encode_example, keys, images, labels)
    tfrecord.write_tfrecords(folder / schema.split_file(split, shard, shards), records)


def test_check_split_dir_reads_shards_in_chunks_and_finds_leaks(tmp_path, monkeypatch):
    monkeypatch.setattr(scan, "_READ_CHUNK", 3)
    _write(tmp_path, "train", [b"t%d" % i for i in range(10)], ALL, 0, 2)
    _write(tmp_path, "train", [b"u%d" % i for i in range(10)], ALL, 1, 2)
    _write(tmp_path, "test", [b"s%d" % i for i in range(10)], ALL)
    counts = _check(tmp_path, MNIST)
    assert counts == {"train": 20, "test": 10}
    _write(tmp_path, "test", [b"s0", b"t4", *(b"s%d" % i for i in range(2, 10))], ALL)
    with pytest.raises(PipelineError, match=r"1 keys are in both train and test \(t4\)"):
        _check(tmp_path, MNIST)
    assert "t4" in (tmp_path / "anomalies.json").read_text()


def test_check_split_dir_holds_records_to_the_schema_it_is_given(tmp_path):
    four = [0, 1, 2, 3, 0, 1, 2, 3]
    _write(tmp_path, "train", [b"t%d" % i for i in range(8)], four, data=PETS)
    _write(tmp_path, "test", [b"s%d" % i for i in range(4)], [0, 1, 2, 3], data=PETS)
    assert _check(tmp_path, PETS) == {"train": 8, "test": 4}
    # The same records against MNIST's schema: every image is the wrong size.
    with pytest.raises(PipelineError, match=r"train: 8 images are not \(28, 28, 1\)"):
        _check(tmp_path, MNIST)
    _write(tmp_path, "test", [b"s%d" % i for i in range(4)], [0, 1, 2, 4], data=PETS)
    with pytest.raises(PipelineError, match=r"test: 1 labels outside 0-3 \(values 4\)"):
        _check(tmp_path, PETS)

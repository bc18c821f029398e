import numpy as np
import pytest

from pipeline import codec, schema, tfrecord, validate
from pipeline.errors import PipelineError
from pipeline.stats import SplitStats

ALL = list(range(10))


def _summary(labels, images=None, wrong_size=()):
    labels = np.asarray(labels, np.int64)
    if images is None:
        images = np.zeros((len(labels), *schema.IMAGE_SHAPE), np.float32)
    return validate.SplitSummary.of(images, labels, list(wrong_size))


def test_clean_split_has_no_anomalies():
    assert validate.summary_anomalies("train", _summary(ALL)) == []


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (_summary([]), "train: the split is empty"),
        (_summary([*ALL, 12]), "1 labels outside 0-9 (values 12)"),
        (_summary(ALL[:7]), "no examples of class 7, 8, 9"),
        (_summary(ALL, wrong_size=[b"k3"]), "1 images are not (28, 28, 1) (keys b'k3')"),
        (_summary(ALL, images=np.full((10, 28, 28, 1), np.nan, np.float32)), "7840 pixels are NaN"),
        (
            _summary(ALL, images=np.full((10, 28, 28, 1), 255.0, np.float32)),
            "7840 pixels outside [0, 1]",
        ),
    ],
)
def test_each_anomaly_is_named(summary, expected):
    found = validate.summary_anomalies("train", summary)
    assert any(expected in anomaly for anomaly in found), found


def test_summaries_merge_like_one_summary_of_everything():
    labels = np.array([*ALL, 3, 11, -2])
    images = np.zeros((13, *schema.IMAGE_SHAPE), np.float32)
    images[4, 0, 0, 0] = np.nan
    whole = validate.SplitSummary.of(images, labels, [b"x"])
    parts = validate.SplitSummary.of(images[:5], labels[:5], [b"x"]).merge(
        validate.SplitSummary.of(images[5:], labels[5:])
    )
    for field in validate.SplitSummary._fields:
        np.testing.assert_array_equal(getattr(parts, field), getattr(whole, field))


def test_duplicate_and_shared_keys():
    keys = {"train": np.array([b"a", b"b", b"a"], object), "validation": np.array([b"b"], object)}
    assert validate.duplicate_keys(keys["train"]) == [b"a"]
    assert validate.cross_split_anomalies(keys) == ["1 keys are in both train and validation (b)"]


def _stats(counts, mean):
    return SplitStats(sum(counts), sum(counts), tuple(counts), mean, 0.3)


def test_drift_beyond_thresholds_is_an_anomaly():
    stats = {"train": _stats([10] * 10, 0.13), "test": _stats([10] * 9 + [40], 0.20)}
    found = validate.drift_anomalies(stats, max_class_drift=0.02, max_pixel_mean_drift=0.02)
    assert "test: class shares drift 0.2077" in found[0]
    assert "test: pixel mean drifts 0.0700" in found[1]
    assert validate.drift_anomalies(stats, max_class_drift=0.5, max_pixel_mean_drift=0.1) == []


def test_report_lists_anomalies_and_the_error_names_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineError, match=r"2 data anomalies in d, first: x; .*anomalies/s.json"):
        validate.fail_on_anomalies("s", "d", ["x", "y"])
    assert '"x"' in (tmp_path / "anomalies" / "s.json").read_text()
    validate.fail_on_anomalies("s", "d", [])
    assert not (tmp_path / "anomalies" / "s.json").exists()


def _write(folder, split, keys, labels, shard=0, shards=1):
    images = np.zeros((len(keys), *schema.IMAGE_SHAPE), np.uint8)
    records = map(codec.encode_example, keys, images, labels)
    tfrecord.write_tfrecords(folder / schema.split_file(split, shard, shards), records)


def test_check_split_dir_reads_shards_in_chunks_and_finds_leaks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(validate, "_READ_CHUNK", 3)
    _write(tmp_path, "train", [b"t%d" % i for i in range(10)], ALL, 0, 2)
    _write(tmp_path, "train", [b"u%d" % i for i in range(10)], ALL, 1, 2)
    _write(tmp_path, "test", [b"s%d" % i for i in range(10)], ALL)
    counts = validate.check_split_dir("ingest", tmp_path, ("train", "test"), np.uint8)
    assert counts == {"train": 20, "test": 10}
    _write(tmp_path, "test", [b"s0", b"t4", *(b"s%d" % i for i in range(2, 10))], ALL)
    with pytest.raises(PipelineError, match=r"1 keys are in both train and test \(t4\)"):
        validate.check_split_dir("ingest", tmp_path, ("train", "test"), np.uint8)

import numpy as np
import pytest

from pipeline import example, schema, validate
from pipeline.errors import PipelineError


def _records(labels, keys=None, images=None, wrong_size=()):
    labels = np.asarray(labels, np.int64)
    keys = np.array(keys or [f"k{i}".encode() for i in range(len(labels))], object)
    if images is None:
        images = np.zeros((len(labels), *schema.IMAGE_SHAPE), np.float32)
    return validate.SplitRecords(example.Examples(keys, images, labels), list(wrong_size))


ALL = list(range(10))


def test_clean_split_has_no_anomalies():
    assert validate.split_anomalies("train", _records(ALL)) == []


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (_records([]), "train: the split is empty"),
        (_records([*ALL, 12]), "1 labels outside 0-9 (values 12)"),
        (_records(ALL[:7]), "no examples of class 7, 8, 9"),
        (_records(ALL, wrong_size=[b"k3"]), "1 images are not (28, 28, 1) (keys b'k3')"),
        (_records(ALL, keys=[b"a"] * 10), "duplicate keys a"),
        (
            _records(ALL, images=np.full((10, 28, 28, 1), np.nan, np.float32)),
            "7840 pixels are NaN",
        ),
        (
            _records(ALL, images=np.full((10, 28, 28, 1), 255.0, np.float32)),
            "7840 pixels outside [0, 1]",
        ),
    ],
)
def test_each_anomaly_is_named(records, expected):
    found = validate.split_anomalies("train", records)
    assert any(expected in anomaly for anomaly in found), found


def test_key_in_two_splits_is_a_leak():
    found = validate.cross_split_anomalies(
        {"train": np.array([b"a", b"b"], object), "validation": np.array([b"b"], object)}
    )
    assert found == ["1 keys are in both train and validation (b)"]


def _stats(counts, mean):
    return {"examples_per_class": {str(c): n for c, n in enumerate(counts)}, "pixel_mean": mean}


def test_drift_beyond_thresholds_is_an_anomaly():
    stats = {"train": _stats([10] * 10, 0.13), "test": _stats([10] * 9 + [40], 0.20)}
    found = validate.drift_anomalies(stats, max_class_drift=0.02, max_pixel_mean_drift=0.02)
    assert "test: class shares drift 0.2077" in found[0]
    assert "test: pixel mean drifts 0.0700" in found[1]
    assert validate.drift_anomalies(stats, max_class_drift=0.5, max_pixel_mean_drift=0.1) == []


def test_report_lists_anomalies_and_the_error_names_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineError, match=r"2 data anomalies in d, first: x; .*anomalies/s.json"):
        validate.report("s", "d", ["x", "y"])
    assert '"x"' in (tmp_path / "anomalies" / "s.json").read_text()
    validate.report("s", "d", [])
    assert not (tmp_path / "anomalies" / "s.json").exists()

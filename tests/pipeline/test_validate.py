import numpy as np
import pytest

from pipeline import validate
from pipeline.errors import PipelineError
from pipeline.stats import SplitStats
from tests.support.records import MNIST, PETS, SCHEMAS

ALL = list(range(10))


def _summary(labels, images=None, wrong_size=(), data=MNIST):
    labels = np.asarray(labels, np.int64)
    if images is None:
        images = np.zeros((len(labels), *data.image_shape), np.float32)
    return validate.SplitSummary.of(images, labels, data.num_classes, list(wrong_size))


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
def test_clean_split_has_no_anomalies(data):
    every = list(range(data.num_classes))
    assert validate.summary_anomalies("train", _summary(every, data=data), data) == []


@pytest.mark.parametrize(
    ("summary", "data", "expected"),
    [
        (_summary([]), MNIST, "train: the split is empty"),
        (_summary([*ALL, 12]), MNIST, "1 labels outside 0-9 (values 12)"),
        (_summary([0, 1, 2, 3, 4, -1], data=PETS), PETS, "2 labels outside 0-3 (values -1, 4)"),
        (_summary(ALL[:7]), MNIST, "no examples of class 7, 8, 9"),
        (_summary([0, 2, 2], data=PETS), PETS, "no examples of class dog, newt"),
        (_summary(ALL, wrong_size=[b"k3"]), MNIST, "1 images are not (28, 28, 1) (keys b'k3')"),
        (
            _summary([0, 1, 2, 3], wrong_size=[b"k3"], data=PETS),
            PETS,
            "1 images are not (12, 10, 3) (keys b'k3')",
        ),
        (  # 10 images of 28 x 28 pixels
            _summary(ALL, images=np.full((10, 28, 28, 1), np.nan, np.float32)),
            MNIST,
            "7840 pixels are NaN",
        ),
        (  # 4 images of 12 x 10 pixels of 3 channels
            _summary([0, 1, 2, 3], images=np.full((4, 12, 10, 3), np.nan, np.float32), data=PETS),
            PETS,
            "1440 pixels are NaN",
        ),
        (
            _summary(ALL, images=np.full((10, 28, 28, 1), 255.0, np.float32)),
            MNIST,
            "7840 pixels outside [0, 1]",
        ),
    ],
)
def test_each_anomaly_is_named(summary, data, expected):
    found = validate.summary_anomalies("train", summary, data)
    assert any(expected in anomaly for anomaly in found), found


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
def test_summaries_merge_like_one_summary_of_everything(data):
    n = data.num_classes
    labels = np.array([*range(n), 3, n + 1, -2])
    images = np.zeros((len(labels), *data.image_shape), np.float32)
    images[4, 0, 0, -1] = np.nan
    whole = validate.SplitSummary.of(images, labels, n, [b"x"])
    parts = validate.SplitSummary.of(images[:5], labels[:5], n, [b"x"]).merge(
        validate.SplitSummary.of(images[5:], labels[5:], n)
    )
    for field in validate.SplitSummary._fields:
        np.testing.assert_array_equal(getattr(parts, field), getattr(whole, field))
    assert whole.class_counts.shape == (n,) and whole.outside_labels == 2


def test_duplicate_and_shared_keys():
    keys = {"train": np.array([b"a", b"b", b"a"], object), "validation": np.array([b"b"], object)}
    assert validate.duplicate_keys(keys["train"]) == [b"a"]
    assert validate.cross_split_anomalies(keys) == ["1 keys are in both train and validation (b)"]


def _stats(counts, mean, std=0.3):
    mean = mean if isinstance(mean, tuple) else (mean,)
    return SplitStats(sum(counts), sum(counts), tuple(counts), mean, (std,) * len(mean))


def test_drift_beyond_thresholds_is_an_anomaly():
    # Splits of 100,000 examples and more: chance drifts them far less than the params allow.
    stats = {
        "train": _stats([10_000] * 10, 0.13),
        "test": _stats([10_000] * 9 + [40_000], 0.20),
    }
    found = validate.drift_anomalies(stats, max_class_drift=0.02, max_pixel_mean_drift=0.02)
    # Class 9's share: 40 / 130 in test, 10 / 100 in train.
    assert found == [
        "test: class shares drift 0.2077 from train's (> validate.max_class_drift 0.02)",
        "test: pixel mean drifts 0.0700 from train's (> validate.max_pixel_mean_drift 0.02)",
    ]
    assert validate.drift_anomalies(stats, max_class_drift=0.5, max_pixel_mean_drift=0.1) == []


def test_the_pixel_mean_drifts_by_its_furthest_channel():
    stats = {
        "train": _stats([50_000] * 4, (0.2, 0.5, 0.25)),
        "test": _stats([50_000] * 4, (0.21, 0.44, 0.25)),  # green moved 0.06, red only 0.01
    }
    found = validate.drift_anomalies(stats, max_class_drift=0.02, max_pixel_mean_drift=0.02)
    assert found == [
        "test: pixel mean drifts 0.0600 from train's (> validate.max_pixel_mean_drift 0.02)"
    ]
    assert validate.drift_anomalies(stats, max_class_drift=0.02, max_pixel_mean_drift=0.07) == []


def test_small_splits_may_drift_as_far_as_chance_takes_them():
    # 100 and 40 examples, pixels of spread 0.3: chance allows CHANCE_Z standard errors of
    # the gap between the two means, far more than the default 0.02.
    allowed = validate.CHANCE_Z * np.sqrt(1 / 40 + 1 / 100) * 0.3
    train = _stats([25] * 4, 0.2)
    near = {"train": train, "test": _stats([10] * 4, 0.2 + allowed * 0.9)}
    assert validate.drift_anomalies(near, max_class_drift=0.02, max_pixel_mean_drift=0.02) == []
    far = {"train": train, "test": _stats([10] * 4, 0.2 + allowed * 1.1)}
    (found,) = validate.drift_anomalies(far, max_class_drift=0.02, max_pixel_mean_drift=0.02)
    assert found.startswith("test: pixel mean drifts ")
    assert found.endswith(
        f"(> validate.max_pixel_mean_drift 0.02 and > {allowed:.4f}, chance's at 40 examples)"
    )


def test_report_lists_anomalies_and_the_error_names_it(tmp_path):
    report = tmp_path / "anomalies" / "s.json"
    with pytest.raises(PipelineError, match=r"2 data anomalies in d, first: x; .*anomalies/s.json"):
        validate.fail_on_anomalies("s", "d", ["x", "y"], report=report)
    assert '"x"' in report.read_text()
    validate.fail_on_anomalies("s", "d", [], report=report)
    assert not report.exists()

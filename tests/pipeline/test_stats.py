import json

import pytest

from pipeline import artifacts, stats
from pipeline.errors import PipelineError
from pipeline.stats import SplitStats

TRAIN = SplitStats(100, 500, (10,) * 10, (0.13,), (0.31,))  # grey, ten classes
RGB = SplitStats(12, 12, (3, 3, 2, 4), (0.2, 0.5, 0.25), (0.1, 0.3, 0.2))  # four classes


def test_what_is_written_reads_back_the_same(tmp_path):
    (tmp_path / artifacts.STATS_FILE).write_text(stats.dumps({"train": TRAIN, "test": RGB}))
    assert stats.read_stats(tmp_path) == {"train": TRAIN, "test": RGB}
    data = json.loads((tmp_path / artifacts.STATS_FILE).read_text())
    assert data["train"]["examples_per_class"]["9"] == 10  # readable: counts by class id
    # One channel's statistic is a plain number, as before there were channels; several
    # are a list, by channel.
    assert data["train"]["pixel_mean"] == 0.13
    assert data["test"]["pixel_std"] == [0.1, 0.3, 0.2]


def test_classes_past_nine_read_back_in_class_order(tmp_path):
    many = SplitStats(66, 66, tuple(range(12)), (0.5,), (0.1,))  # "10" sorts before "2"
    (tmp_path / artifacts.STATS_FILE).write_text(stats.dumps({"train": many}))
    assert stats.read_stats(tmp_path)["train"].examples_per_class == tuple(range(12))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "not found"),
        ("{", "is not preprocess's statistics"),
        ("[]", "not a mapping of splits"),
        (json.dumps({"train": {"examples": 1}}), "not a split's statistics"),
        (json.dumps({"train": {**TRAIN.to_json(), "records": -1}}), "not an integer >= 0"),
        (json.dumps({"train": {**TRAIN.to_json(), "examples_per_class": {"1": 1}}}), "per class"),
        (
            json.dumps({"train": {**TRAIN.to_json(), "examples_per_class": {"0": 1, "2": 1}}}),
            "per class",
        ),
        (json.dumps({"train": {**TRAIN.to_json(), "pixel_mean": "x"}}), "not a number"),
        (json.dumps({"train": {**TRAIN.to_json(), "pixel_mean": []}}), "not a number"),
        (json.dumps({"train": {**RGB.to_json(), "pixel_std": [0.1, True]}}), "not a number"),
    ],
)
def test_anything_else_is_one_clear_error(tmp_path, text, message):
    if text is not None:
        (tmp_path / artifacts.STATS_FILE).write_text(text)
    with pytest.raises(PipelineError, match=message) as error:
        stats.read_stats(tmp_path)
    assert "re-run preprocess" in str(error.value)

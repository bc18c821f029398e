import json

import pytest

from pipeline import artifacts, stats
from pipeline.errors import PipelineError
from pipeline.stats import SplitStats

TRAIN = SplitStats(100, 500, (10,) * 10, 0.13, 0.31)


def test_what_is_written_reads_back_the_same(tmp_path):
    (tmp_path / artifacts.STATS_FILE).write_text(stats.dumps({"train": TRAIN}))
    assert stats.read_stats(tmp_path) == {"train": TRAIN}
    data = json.loads((tmp_path / artifacts.STATS_FILE).read_text())
    assert data["train"]["examples_per_class"]["9"] == 10  # readable: counts by class name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "not found"),
        ("{", "is not preprocess's statistics"),
        ("[]", "not a mapping of splits"),
        (json.dumps({"train": {"examples": 1}}), "not a split's statistics"),
        (json.dumps({"train": {**TRAIN.to_json(), "records": -1}}), "not an integer >= 0"),
        (json.dumps({"train": {**TRAIN.to_json(), "examples_per_class": {"0": 1}}}), "per class"),
        (json.dumps({"train": {**TRAIN.to_json(), "pixel_mean": "x"}}), "not a number"),
    ],
)
def test_anything_else_is_one_clear_error(tmp_path, text, message):
    if text is not None:
        (tmp_path / artifacts.STATS_FILE).write_text(text)
    with pytest.raises(PipelineError, match=message) as error:
        stats.read_stats(tmp_path)
    assert "re-run preprocess" in str(error.value)

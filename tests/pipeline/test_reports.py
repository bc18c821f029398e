import json

import pytest

from pipeline.reports import Baseline, Blessing, Candidate, HeadlineMetrics, Score, Thresholds

BLESSING = Blessing(
    blessed=True,
    check="change",
    reason="better",
    candidate=Candidate("ab" * 32, Score(accuracy=0.98, loss=0.07)),
    baseline=Baseline(3, None, Score(accuracy=0.97, loss=0.09)),
    thresholds=Thresholds(0.97, 0.0),
    pushed_version=4,
)


def test_records_read_back_what_they_write_through_json():
    for record in (BLESSING, HeadlineMetrics(Score(1.0, 0.0), blessed=False)):
        assert type(record).from_json(json.loads(json.dumps(record.to_json()))) == record


def test_optional_fields_take_null():
    unblessed = Blessing(**{**BLESSING.__dict__, "baseline": None, "pushed_version": None})
    assert Blessing.from_json(unblessed.to_json()) == unblessed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("blessed"), "Blessing lacks blessed"),
        (lambda d: d.update(extra=1), "Blessing has unknown fields ['extra']"),
        (
            lambda d: d["candidate"]["test"].update(accuracy="0.9"),
            "candidate.test.accuracy is '0.9'",
        ),
        (lambda d: d["candidate"]["test"].update(loss=float("nan")), "candidate.test.loss is nan"),
        (lambda d: d.update(pushed_version=True), "pushed_version is True, not a int"),
        (lambda d: d.update(baseline=[]), "Blessing.baseline is not a mapping"),
    ],
)
def test_anything_else_is_refused_naming_the_field(change, message):
    data = BLESSING.to_json()
    change(data)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Blessing.from_json(data)

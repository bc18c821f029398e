import dataclasses
import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import outputs, schema, stats
from pipeline.record import Record
from pipeline.reports import Baseline, Blessing, Candidate, Score, Thresholds, TrainingMetrics
from pipeline.schema import Schema
from pipeline.stats import SplitStats
from tests.support import ROOT


@dataclasses.dataclass(frozen=True)
class Inner(Record):
    value: float
    name: str | None


@dataclasses.dataclass(frozen=True)
class Outer(Record):
    count: int
    flag: bool
    items: tuple[Inner, ...]


EXAMPLE = Outer(2, True, (Inner(0.5, "a"), Inner(1.0, None)))


def test_a_huge_value_is_cut_in_the_message():
    with pytest.raises(ValueError, match=r"Outer.count is 'xxxx.*\.\.\.x', not a int$"):
        Outer.from_json({**EXAMPLE.to_json(), "count": "x" * 10_000_000})


def test_a_record_reads_back_what_it_wrote_through_json():
    assert Outer.from_json(json.loads(json.dumps(EXAMPLE.to_json()))) == EXAMPLE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(extra=1), r"Outer has unknown fields \['extra'\]"),
        (lambda d: d.pop("flag"), "Outer lacks flag"),
        (lambda d: d.update(count=True), "Outer.count is True, not a int"),  # a bool is no int
        (lambda d: d.update(flag=1), "Outer.flag is 1, not a bool"),
        (lambda d: d.update(items={}), "Outer.items is not a list"),
        (lambda d: d["items"][1].update(value=float("nan")), r"Outer.items\[1\].value is nan"),
        (lambda d: d["items"][0].update(name=3), r"Outer.items\[0\].name is 3, not a str"),
    ],
    ids=["extra", "missing", "bool for int", "int for bool", "not a list", "nan", "wrong type"],
)
def test_anything_but_what_it_writes_is_refused_naming_the_field(change, message):
    data = EXAMPLE.to_json()
    change(data)
    with pytest.raises(ValueError, match=message):
        Outer.from_json(data)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_JSON)
def test_any_json_reads_as_a_record_or_one_value_error(data):
    try:
        record = Outer.from_json(data)
    except ValueError as error:
        assert "\n" not in str(error) and len(str(error)) < 200
    else:
        assert Outer.from_json(record.to_json()) == record


# The bytes each record file has always had: DVC hashes them (dvc.lock's `outs`), so the
# same results must write the same bytes: key order, float spelling, indent, newline.
_BLESSING_FILE = """{
  "baseline": {
    "model_sha256": null,
    "test": {
      "accuracy": 0.97,
      "loss": 0.09
    },
    "version": 3
  },
  "blessed": true,
  "candidate": {
    "model_sha256": "abababababababababababababababababababababababababababababababab",
    "test": {
      "accuracy": 0.9812,
      "loss": 0.0634
    }
  },
  "check": "change",
  "pushed_version": 4,
  "reason": "better than version 3",
  "thresholds": {
    "max_accuracy_drop": 0.0,
    "min_accuracy": 0.97
  }
}
"""
_STATS_FILE = """{
  "test": {
    "examples": 2,
    "examples_per_class": {
      "0": 1,
      "1": 1
    },
    "pixel_mean": [
      0.2,
      0.5,
      0.25
    ],
    "pixel_std": [
      0.1,
      0.3,
      0.2
    ],
    "records": 2
  },
  "train": {
    "examples": 3,
    "examples_per_class": {
      "0": 1,
      "1": 2
    },
    "pixel_mean": 0.130662,
    "pixel_std": 0.308108,
    "records": 6
  }
}
"""
_SCHEMA_FILE = """{
  "channels": 3,
  "classes": [
    "circle",
    "square"
  ],
  "dtype": "uint8",
  "framing": "resize",
  "height": 2,
  "width": 3
}
"""
# train's DVCLive summary, rewritten by components.train.callbacks in field order.
_LIVE_SUMMARY = """{
    "train": {
        "accuracy": 0.98949,
        "loss": 0.03319
    },
    "val": {
        "accuracy": 0.97539,
        "loss": 0.08757
    }
}
"""


def test_the_record_files_keep_their_bytes(tmp_path):
    blessing = Blessing(
        True,
        "change",
        "better than version 3",
        Candidate("ab" * 32, Score(0.9812, 0.0634)),
        Baseline(3, None, Score(0.97, 0.09)),
        Thresholds(0.97, 0.0),
        4,
    )
    outputs.write_json(tmp_path / "blessing.json", blessing.to_json())
    assert (tmp_path / "blessing.json").read_text() == _BLESSING_FILE
    grey = SplitStats(3, 6, (1, 2), (0.130662,), (0.308108,))
    rgb = SplitStats(2, 2, (1, 1), (0.2, 0.5, 0.25), (0.1, 0.3, 0.2))
    assert stats.dumps({"train": grey, "test": rgb}) == _STATS_FILE
    schema.write_schema(
        tmp_path / "schema.json", Schema(2, 3, 3, "uint8", ("circle", "square"), "resize")
    )
    assert (tmp_path / "schema.json").read_text() == _SCHEMA_FILE
    live = TrainingMetrics(Score(0.98949, 0.03319), Score(0.97539, 0.08757))
    assert json.dumps(live.to_json(), indent=4) + "\n" == _LIVE_SUMMARY
    for text, kind in (
        (_BLESSING_FILE, Blessing),
        (_SCHEMA_FILE, Schema),
        (_LIVE_SUMMARY, TrainingMetrics),
    ):
        assert kind.from_json(json.loads(text)).to_json() == json.loads(text)


def test_importing_the_records_and_params_imports_no_pydantic():
    # Every stage imports them at start; pydantic is imported when one is first read.
    code = (
        "import sys, pipeline.params, pipeline.reports, pipeline.schema, pipeline.stats\n"
        "print(sorted({'pydantic', 'annotated_types'} & set(sys.modules)))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert imported.stdout == "[]\n"

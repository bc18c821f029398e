import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.record import Record


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

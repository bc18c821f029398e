"""Typed JSON records: what one module writes and another reads (the report files, the
schema, push records, stats.json, a tuning trial's notes), as a frozen dataclass that
pydantic writes and reads in strict mode, refusing anything else in one error naming the
field.

A record is read as the JSON it is: pydantic's strict JSON mode takes an array for a tuple
and an object for a record, and nothing else for either. pydantic is imported when a
record is first read or written, not with this module, which every stage imports at start.
"""

from __future__ import annotations

import functools
import json
import typing
from typing import Annotated, Any, Self

from pipeline.errors import shown

EXTRA = frozenset({"extra_forbidden", "unexpected_keyword_argument", "invalid_key"})
MISSING = frozenset({"missing", "missing_argument"})
_NOT_A = {"dataclass_type": "mapping", "tuple_type": "list", "list_type": "list"}
_KINDS = {"int_type": "int", "float_type": "float", "finite_number": "float"}
_KINDS |= {"string_type": "str", "bool_type": "bool"}


class Record:
    """A frozen dataclass that pydantic reads and writes as JSON, field by field."""

    # Only what it writes: no unknown or missing field, each value of its field's own type
    # ("5" is no int, 1 no bool), no NaN or infinity.
    __pydantic_config__: typing.ClassVar = {
        "strict": True,
        "extra": "forbid",
        "allow_inf_nan": False,
    }

    def to_json(self) -> dict[str, Any]:
        return _adapter(type(self)).dump_python(self, mode="json")

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Reads exactly what `to_json` writes.

        Raises:
            ValueError: naming the first field that is missing, extra or of another type.
        """
        from pydantic import ValidationError

        try:
            return _adapter(cls).validate_json(json.dumps(data))
        except ValidationError as error:
            raise ValueError(cls._refusal(error.errors(include_url=False))) from None

    @classmethod
    def _refusal(cls, errors: list[Any]) -> str:
        """The error first met, in words: `Blessing.candidate.test.loss is nan, not a float`."""
        error = first_error(errors)
        *place, step = error["loc"] or [None]
        where = cls.__name__ + "".join(map(_step, place))
        if error["type"] in EXTRA:
            siblings = [e["loc"] for e in errors if e["type"] in EXTRA]
            unknown = sorted(loc[-1] for loc in siblings if list(loc[:-1]) == place)
            return f"{where} has unknown fields {shown(unknown)}"
        if error["type"] in MISSING:
            return f"{where} lacks {step}"
        where += _step(step) if step is not None else ""
        if error["type"] in _NOT_A:
            return f"{where} is not a {_NOT_A[error['type']]}"
        return f"{where} is {shown(error['input'])}, not a {_KINDS.get(error['type'], '?')}"


def _step(step: str | int) -> str:
    return f"[{step}]" if isinstance(step, int) else f".{step}"


def first_error(errors: list[Any]) -> Any:
    """The error a reader checking field by field meets first: at each level from the
    outside, a value that is not what its place takes, then a key the place does not know,
    then one it lacks, then the first faulty field's own errors (pydantic lists them in
    field order)."""
    depth = 0
    while True:
        for error in errors:
            if len(error["loc"]) == depth and error["type"] not in EXTRA | MISSING:
                return error
        for kinds in (EXTRA, MISSING):
            for error in errors:
                if len(error["loc"]) == depth + 1 and error["type"] in kinds:
                    return error
        inner = errors[0]["loc"][: depth + 1]
        errors = [error for error in errors if error["loc"][: depth + 1] == inner]
        depth += 1


def within(kind: Any, **bounds: int) -> Any:
    """`kind` within annotated_types' bounds (gt, ge, lt, le; min_length, max_length), which
    pydantic reads: for an annotation, so it is built when pydantic first reads that, and
    importing a module of records imports no annotated_types."""
    from annotated_types import Interval, Len

    lengths = {name: bounds.pop(name) for name in ("min_length", "max_length") if name in bounds}
    return Annotated[kind, Interval(**bounds), *([Len(**lengths)] if lengths else [])]


@functools.cache
def _adapter(kind: type) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(kind)

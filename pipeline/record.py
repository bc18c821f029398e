"""Typed JSON records: what one module writes and another reads, as a frozen dataclass that
reads and writes itself field by field, refusing anything else in one error naming the
field (the report files, the schema, push records)."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Self

from pipeline.errors import shown


class Record:
    """A frozen dataclass that reads and writes itself as JSON, field by field."""

    def to_json(self) -> dict[str, Any]:
        return {f.name: _dumped(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Reads exactly what `to_json` writes.

        Raises:
            ValueError: naming the first field that is missing, extra or of another type.
        """
        return _loaded(cls, data, cls.__name__)


def _dumped(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_json()
    return [_dumped(item) for item in value] if isinstance(value, tuple) else value


def _loaded(kind: Any, value: Any, where: str) -> Any:
    if isinstance(kind, type) and issubclass(kind, Record):
        if not isinstance(value, dict):
            raise ValueError(f"{where} is not a mapping")
        hints = typing.get_type_hints(kind)
        names = [f.name for f in dataclasses.fields(kind)]
        if unknown := sorted(set(value) - set(names)):
            raise ValueError(f"{where} has unknown fields {shown(unknown)}")
        if missing := [name for name in names if name not in value]:
            raise ValueError(f"{where} lacks {missing[0]}")
        return kind(**{n: _loaded(hints[n], value[n], f"{where}.{n}") for n in names})
    if typing.get_origin(kind) is tuple:  # `tuple[X, ...]`, a JSON list
        if not isinstance(value, list):
            raise ValueError(f"{where} is not a list")
        item = typing.get_args(kind)[0]
        return tuple(_loaded(item, v, f"{where}[{n}]") for n, v in enumerate(value))
    if isinstance(kind, types.UnionType):  # `X | None`
        if value is None and types.NoneType in kind.__args__:
            return None
        (kind,) = (arg for arg in kind.__args__ if arg is not types.NoneType)
        return _loaded(kind, value, where)
    if not _is(kind, value):
        raise ValueError(f"{where} is {shown(value)}, not a {kind.__name__}")
    return float(value) if kind is float else value


def _is(kind: type, value: Any) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, kind)

"""Typed, validated view of params.yaml.

Every key is required and checked before any stage does work, so a typo or an out-of-range
value fails in one line that names the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import PipelineError

DATASETS = ("mnist", "fashion_mnist", "kmnist")
MODELS = ("mlp", "cnn")
STRATEGIES = ("none", "mirrored")
MAX_AUGMENT_COPIES = 100  # a typo of 1000 would fill a disk, not make a better model


def _knob(allowed: str, check: Callable[[Any], bool]) -> Any:
    return dataclasses.field(metadata={"allowed": allowed, "check": check})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive_int() -> Any:
    return _knob("a positive integer", lambda v: _is_int(v) and v > 0)


def _count(most: int) -> Any:
    return _knob(f"an integer from 0 to {most}", lambda v: _is_int(v) and 0 <= v <= most)


def _seed() -> Any:
    return _knob("an integer >= 0", lambda v: _is_int(v) and v >= 0)


def _one_of(names: tuple[str, ...]) -> Any:
    return _knob(f"one of {', '.join(names)}", lambda v: v in names)


@dataclasses.dataclass(frozen=True)
class DataParams:
    dataset: str = _one_of(DATASETS)
    mirror: str | None = _knob(
        "a folder path or null", lambda v: v is None or (isinstance(v, str) and v != "")
    )


@dataclasses.dataclass(frozen=True)
class PreprocessParams:
    validation_fraction: float = _knob(
        "a number strictly between 0 and 1", lambda v: _is_number(v) and 0 < v < 1
    )
    seed: int = _seed()
    num_shards: int | str = _knob(
        "auto or a positive integer", lambda v: v == "auto" or (_is_int(v) and v > 0)
    )
    augment_copies: int = _count(MAX_AUGMENT_COPIES)
    runner: str = _knob("a Beam runner name", lambda v: isinstance(v, str) and v != "")
    beam_args: list[str] = _knob(  # noqa: RUF009 (_knob returns a dataclasses.field)
        "a list of --flag strings",
        lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v),
    )
    worker_start_timeout: int = _positive_int()


@dataclasses.dataclass(frozen=True)
class ValidateParams:
    max_class_drift: float = _knob("a number in (0, 1]", lambda v: _is_number(v) and 0 < v <= 1)
    max_pixel_mean_drift: float = _knob(
        "a number in (0, 1]", lambda v: _is_number(v) and 0 < v <= 1
    )


@dataclasses.dataclass(frozen=True)
class TrainParams:
    model: str = _one_of(MODELS)
    hidden_layer_size: int = _positive_int()
    learning_rate: float = _knob("a number > 0", lambda v: _is_number(v) and v > 0)
    batch_size: int = _positive_int()
    epochs: int = _positive_int()
    buffer_size: int = _positive_int()
    seed: int = _seed()
    cache_mib: int = _count(1 << 20)
    distribute: str = _one_of(STRATEGIES)


@dataclasses.dataclass(frozen=True)
class EvaluateParams:
    min_accuracy: float = _knob("a number in [0, 1]", lambda v: _is_number(v) and 0 <= v <= 1)
    max_accuracy_drop: float = _knob("a number in [0, 1]", lambda v: _is_number(v) and 0 <= v <= 1)
    push: bool = _knob("true or false", lambda v: isinstance(v, bool))


@dataclasses.dataclass(frozen=True)
class Params:
    data: DataParams
    preprocess: PreprocessParams
    validate: ValidateParams
    train: TrainParams
    evaluate: EvaluateParams


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"


def _field(key: str) -> dataclasses.Field:
    """The params field of a dotted key, such as "train.epochs".

    Raises:
        PipelineError: for a key no section has, with the closest one.
    """
    section, _, name = key.partition(".")
    if section not in _SECTIONS:
        known = list(_SECTIONS)
        raise PipelineError(f"params: unknown section '{section}'; {_suggest(section, known)}")
    fields = {f.name: f for f in dataclasses.fields(_SECTIONS[section])}
    if name not in fields:
        raise PipelineError(f"params: unknown key '{key}'; {_suggest(name, list(fields))}")
    return fields[name]


def check_key(key: str) -> None:
    """Raises PipelineError unless `key` is a params.yaml key."""
    _field(key)


def check_value(key: str, value: Any) -> type:
    """Checks `value` for the dotted params key `key` as params.yaml's own would be.

    Returns:
        The key's type (int, float, str, bool, ...).

    Raises:
        PipelineError: for a key no section has, or a value it does not allow.
    """
    field = _field(key)
    _check(key, field, value)
    return {"int": int, "float": float, "str": str, "bool": bool}.get(str(field.type), object)


def _check(key: str, field: dataclasses.Field, value: Any) -> None:
    if not field.metadata["check"](value):
        raise PipelineError(f"params: '{key}' is {value!r}; it must be {field.metadata['allowed']}")


def _build(cls: type, section: str, values: Any) -> Any:
    if not isinstance(values, dict):
        raise PipelineError(f"params: '{section}' must be a mapping of keys, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in values:
        if name not in fields:
            raise PipelineError(
                f"params: unknown key '{section}.{name}'; {_suggest(name, list(fields))}"
            )
    for name, field in fields.items():
        key = f"{section}.{name}"
        if name not in values:
            raise PipelineError(
                f"params: missing key '{key}'; add it to params.yaml "
                f"({field.metadata.get('allowed', 'a section')})"
            )
        _check(key, field, values[name])
    return cls(**values)


_SECTIONS = {
    "data": DataParams,
    "preprocess": PreprocessParams,
    "validate": ValidateParams,
    "train": TrainParams,
    "evaluate": EvaluateParams,
}


def parse_params(raw: Any) -> Params:
    """Validates a params mapping (as read from YAML) into typed params.

    Raises:
        PipelineError: on an unknown or missing key, or a value of the wrong type or range.
    """
    if not isinstance(raw, dict):
        raise PipelineError(
            f"params: the file must be a mapping with sections {', '.join(_SECTIONS)}"
        )
    for name in raw:
        if name not in _SECTIONS:
            raise PipelineError(
                f"params: unknown section '{name}'; {_suggest(name, list(_SECTIONS))}"
            )
    for name in _SECTIONS:
        if name not in raw:
            raise PipelineError(f"params: missing section '{name}'; add it to params.yaml")
    return Params(**{name: _build(cls, name, raw[name]) for name, cls in _SECTIONS.items()})


def load_params(path: str | Path = "params.yaml") -> Params:
    """Reads and validates a params file.

    Raises:
        PipelineError: if the file is missing, is not YAML, or fails validation.
    """
    return parse_params(read_yaml(path, prefix="params: ", missing="run from the project root"))


def read_yaml(path: str | Path, *, prefix: str, missing: str) -> Any:
    """A YAML settings file's contents.

    Raises:
        PipelineError: `prefix`, then that it is missing (and `missing`, what to do), or
            not YAML and at which line.
    """
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise PipelineError(f"{prefix}{path} not found; {missing}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PipelineError(f"{prefix}{path} is not valid YAML{where}; fix the syntax") from None

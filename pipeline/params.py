"""Typed, validated view of params.yaml.

Every key is required and checked before any stage does work, so a typo or an out-of-range
value fails in one line that names the key, the value and what is allowed. Every number is
finite and bounded by what the stage that reads it can honour: a value that passes here is
one the pipeline can run with.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError, shown
from pipeline.schema import MAX_SIDE
from pipeline.settings import read_settings

TFDS_DATASETS = ("mnist", "fashion_mnist", "kmnist")  # tfds's, 28x28 grey, 10 classes
FOLDER = "folder"  # a folder of labelled images: data.folder
# data.folder's default, while the data comes from tfds: ingest depends on data.folder (DVC
# needs it to exist), and the place for one's own images must hold no git-tracked file for
# `dvc add` to take it, so the default is a placeholder beside it (docs/own-data.md).
NO_FOLDER = "data/no-folder"
IMAGES_FOLDER = "data/images"  # where docs/own-data.md puts one's own images
DATASETS = (*TFDS_DATASETS, FOLDER)
AS_FOUND, MOST_COMMON = "as_found", "most_common"  # data.image_size, besides [height, width]
REFUSE, SKIP = "refuse", "skip"  # data.bad_files
MLP, CNN = "mlp", "cnn"  # train.model: the reference notebook's MLP, or a small CNN
MODELS = (MLP, CNN)
STRATEGIES = ("none", "mirrored")
MAX_AUGMENT_COPIES = 100  # a typo of 1000 would fill a disk, not make a better model
MAX_SEED = 2**32 - 1  # what NumPy's and TensorFlow's generators take
MAX_HIDDEN = 8192  # the MLP's 8192-unit layers, with Adam's state, take about 2 GB


def _knob(allowed: str, check: Callable[[Any], bool]) -> Any:
    return dataclasses.field(metadata={"allowed": allowed, "check": check})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float: NaN and the infinities pass no range check here."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_size(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(_is_int(side) and 0 < side <= MAX_SIDE for side in value)
    )


def _integer(least: int, most: int) -> Any:
    return _knob(f"an integer from {least} to {most}", lambda v: _is_int(v) and least <= v <= most)


def _seed() -> Any:
    return _integer(0, MAX_SEED)


def _one_of(names: tuple[str, ...]) -> Any:
    return _knob(f"one of {', '.join(names)}", lambda v: v in names)


@dataclasses.dataclass(frozen=True)
class DataParams:
    dataset: str = _one_of(DATASETS)
    mirror: str | None = _knob(
        "a folder path or null", lambda v: v is None or (isinstance(v, str) and v != "")
    )
    folder: str = _knob("a folder path", lambda v: isinstance(v, str) and v != "")
    image_size: str | list[int] = _knob(  # noqa: RUF009 (_knob returns a dataclasses.field)
        f"{AS_FOUND}, {MOST_COMMON} or [height, width] of 1 to {MAX_SIDE} pixels",
        lambda v: v in (AS_FOUND, MOST_COMMON) or _is_size(v),
    )
    bad_files: str = _one_of((REFUSE, SKIP))


@dataclasses.dataclass(frozen=True)
class PreprocessParams:
    validation_fraction: float = _knob(
        "a number strictly between 0 and 1", lambda v: _is_number(v) and 0 < v < 1
    )
    seed: int = _seed()
    num_shards: int | str = _knob(
        "auto or an integer from 1 to 10000",
        lambda v: v == "auto" or (_is_int(v) and 0 < v <= 10_000),
    )
    augment_copies: int = _integer(0, MAX_AUGMENT_COPIES)
    runner: str = _knob("a Beam runner name", lambda v: isinstance(v, str) and v != "")
    beam_args: list[str] = _knob(  # noqa: RUF009 (_knob returns a dataclasses.field)
        "a list of --flag strings",
        lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v),
    )
    worker_start_timeout: int = _integer(1, 86_400)  # seconds: a day at most


@dataclasses.dataclass(frozen=True)
class ValidateParams:
    max_class_drift: float = _knob("a number in (0, 1]", lambda v: _is_number(v) and 0 < v <= 1)
    max_pixel_mean_drift: float = _knob(
        "a number in (0, 1]", lambda v: _is_number(v) and 0 < v <= 1
    )


@dataclasses.dataclass(frozen=True)
class TrainParams:
    model: str = _one_of(MODELS)
    hidden_layer_size: int = _integer(1, MAX_HIDDEN)
    learning_rate: float = _knob("a number in (0, 10]", lambda v: _is_number(v) and 0 < v <= 10)
    batch_size: int = _integer(1, 65_536)
    epochs: int = _integer(1, 10_000)
    # Epochs are raised until they hold this many steps: a small folder's few batches an
    # epoch would otherwise train a few dozen steps. A million: hours of MNIST-sized steps.
    min_steps: int = _integer(0, 1_000_000)
    buffer_size: int = _integer(1, 1_000_000)  # records held: 3 GB of MNIST's at most
    seed: int = _seed()
    cache_mib: int = _integer(0, 1 << 16)  # 64 GiB
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


def _unknown_in_file(what: str, name: Any, typo: str, known: list[str], file: str) -> PipelineError:
    """An unknown key or section found in `file`, and how to take back one that
    `dvc exp run -S +key=value` added: DVC writes it into the workspace's params file before
    any stage runs and leaves it there when the run fails, so every later run fails on it.
    Terser than `_suggest`, so that the logged line fits 120 columns for a typical key."""
    close = difflib.get_close_matches(typo, known, n=1)
    hint = f" ({close[0]!r}?)" if close else f"; known keys: {', '.join(known)}"
    return PipelineError(
        f"params: unknown {what} {shown(name)}{hint}; delete it from {file} (-S +key adds it)"
    )


# YAML 1.1's booleans that YAML 1.2, and so DVC, reads as strings (`True`, `FALSE` and the
# like are booleans in both).
_YAML11_BOOLEANS = {"y", "yes", "n", "no", "on", "off", "true", "false"}


def _field(key: str) -> dataclasses.Field:
    """The params field of a dotted key, such as "train.epochs".

    Raises:
        PipelineError: for a key no section has, with the closest one.
    """
    section, _, name = key.partition(".")
    if section not in _SECTIONS:
        known = list(_SECTIONS)
        raise PipelineError(f"params: unknown section {shown(section)}; {_suggest(section, known)}")
    fields = {f.name: f for f in dataclasses.fields(_SECTIONS[section])}
    if name not in fields:
        raise PipelineError(f"params: unknown key {shown(key)}; {_suggest(name, list(fields))}")
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
    if field.type == "bool" and isinstance(value, str) and value.lower() in _YAML11_BOOLEANS:
        raise PipelineError(
            f"params: '{key}' is {shown(value)}, a string in YAML 1.2; write true or false"
        )
    if not field.metadata["check"](value):
        raise PipelineError(
            f"params: '{key}' is {shown(value)}; it must be {field.metadata['allowed']}"
        )


def _build(cls: type, section: str, values: Any, file: str) -> Any:
    if not isinstance(values, dict):
        raise PipelineError(f"params: '{section}' must be a mapping of keys, got {shown(values)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in values:
        if name not in fields:
            raise _unknown_in_file("key", f"{section}.{name}", str(name), list(fields), file)
    for name, field in fields.items():
        key = f"{section}.{name}"
        if name not in values:
            raise PipelineError(
                f"params: missing key '{key}'; add it to params.yaml "
                f"({field.metadata.get('allowed', 'a section')})"
            )
        _check(key, field, values[name])
    # A float param written as an integer (`learning_rate: 1`) is that float, as Python's
    # numbers would have it; Keras, for one, refuses an int learning rate.
    return cls(**{n: float(v) if fields[n].type == "float" else v for n, v in values.items()})


_SECTIONS = {
    "data": DataParams,
    "preprocess": PreprocessParams,
    "validate": ValidateParams,
    "train": TrainParams,
    "evaluate": EvaluateParams,
}


def parse_params(raw: Any, file: str = "params.yaml") -> Params:
    """Validates a params mapping (as read from YAML) into typed params.

    Args:
        file: the file `raw` was read from, for the way back from a key that should not be.

    Raises:
        PipelineError: on an unknown or missing key, or a value of the wrong type or range.
    """
    if not isinstance(raw, dict):
        raise PipelineError(
            f"params: the file must be a mapping with sections {', '.join(_SECTIONS)}"
        )
    for name in raw:
        if name not in _SECTIONS:
            raise _unknown_in_file("section", name, str(name), list(_SECTIONS), file)
    for name in _SECTIONS:
        if name not in raw:
            raise PipelineError(f"params: missing section '{name}'; add it to params.yaml")
    return Params(**{name: _build(cls, name, raw[name], file) for name, cls in _SECTIONS.items()})


def load_params(path: str | Path = "params.yaml") -> Params:
    """Reads and validates a params file.

    Raises:
        PipelineError: if the file is missing, is not a small YAML file, or fails validation.
    """
    raw = read_settings(path, prefix="params: ", missing="run from the project root")
    return parse_params(raw, file=str(path))

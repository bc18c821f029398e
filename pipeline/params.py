"""Typed, validated view of params.yaml.

Every key is required and checked before any stage does work, so a typo or an out-of-range
value fails in one line that names the key, the value and what is allowed. Every number is
finite and bounded by what the stage that reads it can honour: a value that passes here is
one the pipeline can run with.

Each section is a frozen dataclass whose annotations give each key's type, its bounds and
the words its refusal says; pydantic validates the file against them in strict mode, so
`epochs: "5"`, `5.0` or `true` are refused, not converted. The annotations are built when
pydantic first reads them: importing this module, as every stage does at start, imports
neither pydantic nor annotated_types.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import typing
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pipeline.errors import PipelineError, shown
from pipeline.record import EXTRA, MISSING, first_error, within
from pipeline.schema import MAX_SIDE
from pipeline.settings import read_settings

TFDS_DATASETS = ("mnist", "fashion_mnist", "kmnist")  # tfds's, 28x28 grey, 10 classes
FOLDER = "folder"  # a folder of labelled images: data.folder
# data.folder's default, while the data comes from tfds: ingest depends on data.folder (DVC
# needs it to exist), and the place for one's own images must hold no git-tracked file for
# `dvc add` to take it, so the default is a placeholder beside it (docs/own-data.md).
NO_FOLDER = "data/no-folder"
IMAGES_FOLDER = "data/images"  # where docs/own-data.md puts one's own images
NO_EXCLUDE = "data/exclude.txt"  # preprocess.exclude's default: a file that names no example
DATASETS = (*TFDS_DATASETS, FOLDER)
AS_FOUND, MOST_COMMON = "as_found", "most_common"  # data.image_size, besides [height, width]
REFUSE, SKIP = "refuse", "skip"  # data.bad_files
MLP, CNN = "mlp", "cnn"  # train.model: the reference notebook's MLP, or a small CNN
MODELS = (MLP, CNN)
STRATEGIES = ("none", "mirrored")
MAX_AUGMENT_COPIES = 100  # a typo of 1000 would fill a disk, not make a better model
MAX_SEED = 2**32 - 1  # what NumPy's and TensorFlow's generators take
MAX_HIDDEN = 8192  # the MLP's 8192-unit layers, with Adam's state, take about 2 GB


# Each key's annotation builds its type when pydantic first reads it: the type, its bounds
# and, as annotated_types' `doc`, what it allows in words.
def _said(words: str, kind: Any, **bounds: int) -> Any:
    from annotated_types import doc

    return Annotated[within(kind, **bounds), doc(words)]


def _integer(least: int, most: int) -> Any:
    return _said(f"an integer from {least} to {most}", int, ge=least, le=most)


def _one_of(names: tuple[str, ...]) -> Any:
    return _said(f"one of {', '.join(names)}", Literal[names])


class _Section:
    """A section's dataclass, as pydantic reads it."""

    # Strict: a value of another type is refused, not converted; a float key takes an
    # integer (`learning_rate: 1`) as that float, as Python's numbers would have it (Keras,
    # for one, refuses an int learning rate); NaN and the infinities are refused.
    __pydantic_config__: ClassVar = {"strict": True, "extra": "forbid", "allow_inf_nan": False}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        # Strict mode takes only an instance where a dataclass is expected: a section, and
        # the file, are read from the mappings YAML gives, their values strictly.
        schema = handler(source)
        handler.resolve_ref_schema(schema)["strict"] = False
        return schema


@dataclasses.dataclass(frozen=True)
class DataParams(_Section):
    dataset: _one_of(DATASETS)
    mirror: _said("a folder path or null", within(str, min_length=1) | None)
    folder: _said("a folder path", str, min_length=1)
    image_size: _said(
        f"{AS_FOUND}, {MOST_COMMON} or [height, width] of 1 to {MAX_SIDE} pixels",
        Literal[AS_FOUND, MOST_COMMON]
        | within(list[within(int, gt=0, le=MAX_SIDE)], min_length=2, max_length=2),
    )
    bad_files: _one_of((REFUSE, SKIP))


@dataclasses.dataclass(frozen=True)
class PreprocessParams(_Section):
    validation_fraction: _said("a number strictly between 0 and 1", float, gt=0, lt=1)
    seed: _integer(0, MAX_SEED)
    num_shards: _said(
        "auto or an integer from 1 to 10000", Literal["auto"] | within(int, gt=0, le=10_000)
    )
    augment_copies: _integer(0, MAX_AUGMENT_COPIES)
    # A file, so that thousands of keys stay out of params.yaml; dvc.yaml makes it a dependency.
    exclude: _said("a file path", str, min_length=1)
    runner: _said("a Beam runner name", str, min_length=1)
    beam_args: _said("a list of --flag strings", list[str])
    worker_start_timeout: _integer(1, 86_400)  # seconds: a day at most


@dataclasses.dataclass(frozen=True)
class ValidateParams(_Section):
    max_class_drift: _said("a number in (0, 1]", float, gt=0, le=1)
    max_pixel_mean_drift: _said("a number in (0, 1]", float, gt=0, le=1)


@dataclasses.dataclass(frozen=True)
class TrainParams(_Section):
    model: _one_of(MODELS)
    hidden_layer_size: _integer(1, MAX_HIDDEN)
    learning_rate: _said("a number in (0, 10]", float, gt=0, le=10)
    batch_size: _integer(1, 65_536)
    epochs: _integer(1, 10_000)
    # Epochs are raised until they hold this many steps: a small folder's few batches an
    # epoch would otherwise train a few dozen steps. A million: hours of MNIST-sized steps.
    min_steps: _integer(0, 1_000_000)
    buffer_size: _integer(1, 1_000_000)  # records held: 3 GB of MNIST's at most
    seed: _integer(0, MAX_SEED)
    cache_mib: _integer(0, 1 << 16)  # 64 GiB
    distribute: _one_of(STRATEGIES)


@dataclasses.dataclass(frozen=True)
class EvaluateParams(_Section):
    min_accuracy: _said("a number in [0, 1]", float, ge=0, le=1)
    max_accuracy_drop: _said("a number in [0, 1]", float, ge=0, le=1)
    push: _said("true or false", bool)


@dataclasses.dataclass(frozen=True)
class Params(_Section):
    data: DataParams
    preprocess: PreprocessParams
    validate: ValidateParams
    train: TrainParams
    evaluate: EvaluateParams


_SECTIONS = {
    "data": DataParams,
    "preprocess": PreprocessParams,
    "validate": ValidateParams,
    "train": TrainParams,
    "evaluate": EvaluateParams,
}


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


def _section(key: str) -> tuple[type, str]:
    """The section class and key name of a dotted key, such as "train.epochs".

    Raises:
        PipelineError: for a key no section has, with the closest one.
    """
    section, _, name = key.partition(".")
    if section not in _SECTIONS:
        known = list(_SECTIONS)
        raise PipelineError(f"params: unknown section {shown(section)}; {_suggest(section, known)}")
    names = [field.name for field in dataclasses.fields(_SECTIONS[section])]
    if name not in names:
        raise PipelineError(f"params: unknown key {shown(key)}; {_suggest(name, names)}")
    return _SECTIONS[section], name


def check_key(key: str) -> None:
    """Raises PipelineError unless `key` is a params.yaml key."""
    _section(key)


def check_value(key: str, value: Any) -> type:
    """Checks `value` for the dotted params key `key` as params.yaml's own would be.

    Returns:
        The key's type (int, float, str, bool, ...).

    Raises:
        PipelineError: for a key no section has, or a value it does not allow.
    """
    from pydantic import ValidationError

    section, name = _section(key)
    kind = _hints(section)[name]
    try:
        _key_adapter(section, name).validate_python(value)
    except ValidationError:
        raise _refused(key, kind, value) from None
    base = typing.get_args(kind)[0]  # the type inside Annotated
    if typing.get_origin(base) is Literal:
        return type(typing.get_args(base)[0])
    return base if base in (int, float, str, bool) else object


@functools.cache
def _key_adapter(section: type, name: str) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(_hints(section)[name], config=_Section.__pydantic_config__)


@functools.cache
def _hints(section: type) -> dict[str, Any]:
    return typing.get_type_hints(section, include_extras=True)


def _refused(key: str, kind: Any, value: Any) -> PipelineError:
    """The refusal of `value` for `key`, whose annotated type is `kind`."""
    boolean = typing.get_args(kind)[0] is bool
    if boolean and isinstance(value, str) and value.lower() in _YAML11_BOOLEANS:
        return PipelineError(
            f"params: '{key}' is {shown(value)}, a string in YAML 1.2; write true or false"
        )
    return PipelineError(f"params: '{key}' is {shown(value)}; it must be {_allowed(kind)}")


def _allowed(kind: Any) -> str:
    return next(m.documentation for m in kind.__metadata__ if hasattr(m, "documentation"))


def parse_params(raw: Any, file: str = "params.yaml") -> Params:
    """Validates a params mapping (as read from YAML) into typed params.

    Args:
        file: the file `raw` was read from, for the way back from a key that should not be.

    Raises:
        PipelineError: on an unknown or missing key, or a value of the wrong type or range.
    """
    from pydantic import ValidationError

    try:
        return _adapter().validate_python(raw)
    except ValidationError as error:
        raise _refusal(raw, error.errors(include_url=False), file) from None


@functools.cache
def _adapter() -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(Params)


def _refusal(raw: Any, errors: list[Any], file: str) -> PipelineError:
    """The first problem pydantic found, in the words each check has always said."""
    error = first_error(errors)
    if len(error["loc"]) == 2 and error["type"] in MISSING:
        # A section's keys are checked in order, a missing one in its place among them.
        section = error["loc"][0]
        error = next(e for e in errors if e["loc"][0] == section and e["type"] not in EXTRA)
    loc, kind = error["loc"], error["type"]
    if not loc:
        return PipelineError(
            f"params: the file must be a mapping with sections {', '.join(_SECTIONS)}"
        )
    section, values = loc[0], raw.get(loc[0])
    if len(loc) == 1 and kind in EXTRA:
        name = next(name for name in raw if name not in _SECTIONS)
        return _unknown_in_file("section", name, str(name), list(_SECTIONS), file)
    if len(loc) == 1 and kind in MISSING:
        return PipelineError(f"params: missing section '{section}'; add it to params.yaml")
    if len(loc) == 1:
        return PipelineError(f"params: '{section}' must be a mapping of keys, got {shown(values)}")
    names = [field.name for field in dataclasses.fields(_SECTIONS[section])]
    if kind in EXTRA:
        name = next(name for name in values if name not in names)
        return _unknown_in_file("key", f"{section}.{name}", str(name), names, file)
    key, hint = f"{section}.{loc[1]}", _hints(_SECTIONS[section])[loc[1]]
    if kind in MISSING:
        return PipelineError(
            f"params: missing key '{key}'; add it to params.yaml ({_allowed(hint)})"
        )
    return _refused(key, hint, values[loc[1]])


def load_params(path: str | Path = "params.yaml") -> Params:
    """Reads and validates a params file.

    Raises:
        PipelineError: if the file is missing, is not a small YAML file, or fails validation.
    """
    raw = read_settings(path, prefix="params: ", missing="run from the project root")
    return parse_params(raw, file=str(path))

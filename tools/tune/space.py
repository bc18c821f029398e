"""mnist-tune's search space: tune.yaml, checked like params.yaml.

    study: mlp            # the Optuna study; its trials are experiments named mlp-000, ...
    seed: 42              # seeds the TPE sampler: the same study proposes the same trials
    space:                # params keys, each a range (low, high; log; step) or choices
      train.learning_rate: {low: 0.0003, high: 0.01, log: true}
      train.hidden_layer_size: {choices: [200, 400, 800]}
      train.epochs: {low: 3, high: 12}

A file of its own, not a section of params.yaml: no stage reads it, and DVC shows every
key of params.yaml as a column of `dvc exp show`. Every bound and choice must be a value
its key accepts in params.yaml; a typo or an empty range is one line naming it.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError, shown
from pipeline.params import MAX_SEED, check_key, check_value
from pipeline.settings import read_settings

SPACE_FILE = "tune.yaml"
_STUDY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,40}")  # it names git refs, too: fullmatch
_RANGE_KEYS = {"low", "high", "log", "step"}


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One params key the search may change, and how."""

    key: str
    kind: type  # int or float for a range; the choices' own for a choice
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial proposes for this key."""
        if self.choices:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind is int:
            return trial.suggest_int(
                self.key, self.low, self.high, log=self.log, step=self.step or 1
            )
        return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)


@dataclasses.dataclass(frozen=True)
class TuneSpec:
    study: str
    seed: int
    space: tuple[Dimension, ...]


def _yaml_value(value: Any) -> str:
    """A value as `-S` reads it back: `true`, not `True`; a float in plain digits, the
    fewest that read back as it (`0.00001`), as people read a trial's params."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return np.format_float_positional(value, unique=True, trim="0")
    return str(value)


def overrides(params: dict[str, Any]) -> list[str]:
    """A trial's params as `dvc exp run -S` arguments, in the space's order."""
    return [f"{key}={_yaml_value(value)}" for key, value in params.items()]


class _Words:
    """How this file's problems are said: each starts with the file's own name."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, what: str) -> PipelineError:
        return PipelineError(f"{self.name}: {what}")

    def key(self, key: str, what: str) -> PipelineError:
        return self(f"'space.{key}' {what}; fix it")

    def checked(self, key: str, value: Any) -> type:
        """check_value, its words said of this file."""
        try:
            return check_value(key, value)
        except PipelineError as error:
            why = str(error).removeprefix("params: ")
            raise self.key(key, f"cannot be {shown(value)} ({why})") from None


def _choices(key: str, spec: dict, say: _Words) -> Dimension:
    choices = spec["choices"]
    if set(spec) != {"choices"} or not isinstance(choices, list) or not choices:
        raise say.key(key, "must be {choices: [a non-empty list]} and nothing else")
    kinds = {say.checked(key, choice) for choice in choices}
    return Dimension(key, kinds.pop() if len(kinds) == 1 else object, choices=tuple(choices))


def _range(key: str, spec: dict, say: _Words) -> Dimension:
    if unknown := set(spec) - _RANGE_KEYS:
        raise say.key(
            key,
            f"has unknown keys {sorted(map(str, unknown))}: a range takes {sorted(_RANGE_KEYS)}",
        )
    if "low" not in spec or "high" not in spec:
        raise say.key(key, "needs both low and high")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    kind = say.checked(key, low)
    say.checked(key, high)  # finite, and in the key's own range
    if kind not in (int, float):
        raise say.key(key, f"is a range, but {key} takes {kind.__name__} values: use choices")
    if not low < high:
        raise say.key(key, f"is an empty range: low {low} is not below high {high}")
    if not isinstance(log, bool) or (log and step is not None):
        raise say.key(key, "log must be true or false, and a log range takes no step")
    if step is not None and not (
        isinstance(step, int | float) and not isinstance(step, bool) and 0 < step <= high - low
    ):
        raise say.key(key, f"step {shown(step)} must be a number in (0, high - low]")
    if kind is int and step is not None and not isinstance(step, int):
        raise say.key(key, f"step {shown(step)} must be an integer, as {key} is")
    return Dimension(key, kind, low=low, high=high, log=log, step=step)


def _dimension(key: str, spec: Any, say: _Words) -> Dimension:
    try:
        check_key(key)
    except PipelineError as error:
        raise say(str(error).removeprefix("params: ")) from None
    if not isinstance(spec, dict) or not spec:
        raise say.key(key, "must be a mapping: {low, high} (log, step) or {choices}")
    return _choices(key, spec, say) if "choices" in spec else _range(key, spec, say)


def parse_space(raw: Any, name: str = SPACE_FILE) -> TuneSpec:
    """Validates the contents of a search-space file; `name` is the file, for messages.

    Raises:
        PipelineError: naming the file, the key and what is wrong with it.
    """
    say = _Words(name)
    if not isinstance(raw, dict):
        raise say("must be a mapping with study, seed and space")
    for key in raw:
        if key not in ("study", "seed", "space"):
            raise say(f"unknown key {shown(key)}; it takes study, seed, space")
    study, seed, space = raw.get("study"), raw.get("seed"), raw.get("space")
    if not isinstance(study, str) or not _STUDY_NAME.fullmatch(study):
        raise say(
            f"'study' is {shown(study)}; it must be a name of up to 41 letters, digits, - and _, "
            "starting with a letter"
        )
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise say(f"'seed' is {shown(seed)}; it must be an integer from 0 to {MAX_SEED}")
    if not isinstance(space, dict) or not space:
        raise say("'space' must map params keys to ranges or choices")
    for key in space:
        if str(key).startswith(("data.", "evaluate.")):
            raise say(f"'space.{key}': a trial may not change {key}")
    return TuneSpec(
        study, seed, tuple(_dimension(str(key), spec, say) for key, spec in space.items())
    )


def load_space(path: str | Path = SPACE_FILE) -> TuneSpec:
    """Reads and validates a search-space file.

    Raises:
        PipelineError: if it is missing, not a small YAML file, or fails validation.
    """
    missing = "run from the project root, or pass --space"
    return parse_space(read_settings(path, prefix="", missing=missing), name=str(path))

"""The examples `preprocess.exclude` leaves out of training: its file, read, and the Beam
steps that find the examples it names and drop them from train.

The file names examples one a line: by key as the records carry it (`train-00042`, or a
folder dataset's `5d41402a:train/cat/0001.png`), or, for a folder dataset, by the image's
file name below `data.folder` (`train/cat/0001.png`); blank lines and lines starting with
`#` are skipped. A file whose text starts with `[` or `{` is read as JSON instead, the
label audit's report (`reports/label_issues_train.json`) as it is: every object in it with
a string `key`, or else a string `file`, names one example.

Only train is filtered: an excluded example leaves training with all its augmented copies
(they are made from train's batches as its shards are written). A named example that
preprocess sends to validation, or one of the test split, stays where it is, counted in
the stage's log: the scores on those splits stay comparable between runs. A name that
matches no example of any split fails the stage before its output is replaced.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from components.preprocess import checks
from pipeline import codec, schema
from pipeline.errors import PipelineError, shown, shown_path

MAX_BYTES = 64 << 20  # a million keys of a long folder path each: larger is no such file
_PARAM = "preprocess.exclude"


@dataclasses.dataclass(frozen=True)
class Exclusions:
    """The examples an exclude file names: each record key it may mean, to its names there
    (a folder image named by its key and by its file name has two)."""

    file: str = ""  # as the params name it, for messages
    keys: dict[bytes, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    @property
    def names(self) -> set[str]:
        return {name for names in self.keys.values() for name in names}


NOTHING = Exclusions()


def named_keys(names: list[str]) -> dict[bytes, tuple[str, ...]]:
    """Each record key a name may mean (the key itself, or a folder file's key), to the
    names that mean it."""
    keys: dict[bytes, tuple[str, ...]] = {}
    for name in names:
        for key in (name.encode(), schema.file_key(name.encode())):
            keys[key] = (*keys.get(key, ()), name)
    return keys


def _text(path: str) -> str:
    named = f"{_PARAM} {shown_path(path, 32)}"
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise PipelineError(f"{named} not found; create it, or name another file") from None
    except OSError as error:  # a folder, no permission
        raise PipelineError(f"{named} cannot be read ({error.strerror})") from None
    if len(data) > MAX_BYTES:
        raise PipelineError(f"{named} is over {MAX_BYTES >> 20} MiB: not a list of keys")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PipelineError(f"{named} is not UTF-8 (byte {error.start}); save as UTF-8") from None


def _json_names(value: Any) -> Iterator[str]:
    """The `key` (else `file`) of every object in a JSON value, at any depth, in order."""
    if isinstance(value, list):
        for item in value:
            yield from _json_names(item)
    elif isinstance(value, dict):
        name = value.get("key", value.get("file"))
        if isinstance(name, str):
            yield name
        else:
            for item in value.values():
                yield from _json_names(item)


def read_exclusions(path: str) -> Exclusions:
    """The examples the file at `path` names (see the module's docstring).

    Raises:
        PipelineError: for a file that is missing, not UTF-8, too large, or bad JSON.
    """
    text = _text(path)
    if text.lstrip()[:1] in ("[", "{"):
        try:
            names = list(_json_names(json.loads(text)))
        except json.JSONDecodeError as error:
            where = f"{_PARAM} {shown_path(path, 32)}"
            raise PipelineError(f"{where} is bad JSON at line {error.lineno}; fix it") from None
        except RecursionError:
            where = f"{_PARAM} {shown_path(path, 32)}"
            raise PipelineError(f"{where} is JSON nested too deep; fix it") from None
    else:
        lines = (line.strip() for line in text.splitlines())
        names = [line for line in lines if line and not line.startswith("#")]
    return Exclusions(os.fspath(path), named_keys(list(dict.fromkeys(names))))


def find_named(
    batch: codec.Examples, split: str, keys: dict[bytes, tuple[str, ...]]
) -> Iterator[checks.Named]:
    """A `Named` finding of the names the batch's examples answer to, if any."""
    named = [keys[key] for key in batch.keys.tolist() if key in keys]
    if named:
        yield checks.Named(split, sorted({name for names in named for name in names}), len(named))


def drop_named(batch: codec.Examples, keys: dict[bytes, tuple[str, ...]]) -> codec.Examples:
    """The batch without the examples `keys` names."""
    return batch.take(np.array([key not in keys for key in batch.keys.tolist()], bool))


class ExcludeFromTrain(beam.PTransform):
    """{split: batches} -> ({split: batches} with train's named examples dropped, `Named`
    findings of every split: what the launcher reports, and the names that match none)."""

    def __init__(self, keys: dict[bytes, tuple[str, ...]]):
        super().__init__()
        self.keys = keys

    def expand(
        self, splits: dict[str, beam.PCollection]
    ) -> tuple[dict[str, beam.PCollection], beam.PCollection]:
        named = [
            batches | f"Find{split}" >> beam.FlatMap(find_named, split, self.keys)
            for split, batches in splits.items()
        ] | "FlattenNamed" >> beam.Flatten()
        train = splits[schema.TRAIN] | "DropNamed" >> beam.Map(drop_named, self.keys)
        return {**splits, schema.TRAIN: train}, named


def unmatched(exclusions: Exclusions, found: dict[str, list[str]]) -> PipelineError | None:
    """The refusal of names that match no example of any split, if there are any."""
    missing = sorted(exclusions.names.difference(*found.values()))
    if not missing:
        return None
    more = ", ..." if len(missing) > 1 else ""
    return PipelineError(
        f"{_PARAM}: {len(missing)} match no example ({shown(missing[0], 24)}{more}); "
        "fix or delete them"
    )

"""`stats.json`, preprocess's statistics of each split: written by its pipeline, read by train.

One type for both sides, so the file's layout is spelled once. pydantic checks and converts
its values (pipeline.record); the layout is the file's own, kept by hand: counts keyed by
class id, a plain number where there is one channel, as the file always had (DVC hashes it).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from pipeline import artifacts, outputs
from pipeline.errors import PipelineError
from pipeline.record import Record, first_error, within

REDO_PREPROCESS = "re-run preprocess (dvc repro --force -s preprocess)"  # the fix for its outputs
_PIXELS = ("pixel_mean", "pixel_std")


@dataclasses.dataclass(frozen=True)
class SplitStats(Record):
    """One split's statistics. Pixel statistics are of the scaled source examples, one per
    channel (a plain number in the file where there is one channel)."""

    # Source examples: the split's share of the raw data.
    examples: within(int, ge=0)
    # Records in the split's files: examples, plus train's augmented copies.
    records: within(int, ge=0)
    examples_per_class: tuple[within(int, ge=0), ...]  # source examples of each, by class id
    pixel_mean: within(tuple[float, ...], min_length=1)  # in the file, a plain number for one
    pixel_std: within(tuple[float, ...], min_length=1)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["examples_per_class"] = {str(c): n for c, n in enumerate(self.examples_per_class)}
        for name in _PIXELS:
            data[name] = data[name][0] if len(data[name]) == 1 else data[name]
        return data

    @classmethod
    def from_json(cls, data: Any) -> SplitStats:
        """Raises ValueError for anything but what `to_json` writes."""
        if not isinstance(data, dict) or set(data) != {f.name for f in dataclasses.fields(cls)}:
            raise ValueError("not a split's statistics")
        per_class = data["examples_per_class"]
        if not isinstance(per_class, dict) or set(per_class) != {
            str(c) for c in range(len(per_class))
        }:
            raise ValueError("examples_per_class is not a count per class")
        by_id = [per_class[str(c)] for c in range(len(per_class))]
        pixels = {
            name: data[name] if isinstance(data[name], list) else [data[name]] for name in _PIXELS
        }
        return super().from_json({**data, "examples_per_class": by_id, **pixels})

    @classmethod
    def _refusal(cls, errors: list[Any]) -> str:
        field = first_error(errors)["loc"][0]
        return (
            f"{field} is not a number per channel"
            if field in _PIXELS
            else "a count is not an integer >= 0"
        )


def dumps(stats: dict[str, SplitStats]) -> str:
    """The text of stats.json: indented, keys sorted, so equal statistics are equal bytes."""
    data = {split: split_stats.to_json() for split, split_stats in stats.items()}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def read_stats(directory: str | Path) -> dict[str, SplitStats]:
    """Reads preprocess's stats.json from its output folder.

    Raises:
        PipelineError: if it is missing or not what preprocess writes.
    """
    path = Path(directory) / artifacts.STATS_FILE
    fix = REDO_PREPROCESS
    try:
        data = outputs.read_report(path)
        if not isinstance(data, dict):
            raise ValueError("not a mapping of splits")
        return {split: SplitStats.from_json(value) for split, value in data.items()}
    except FileNotFoundError:
        raise PipelineError(f"{path} not found; {fix}") from None
    except ValueError as error:
        raise PipelineError(f"{path} is not preprocess's statistics ({error}); {fix}") from None

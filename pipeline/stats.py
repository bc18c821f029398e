"""`stats.json`, preprocess's statistics of each split: written by its pipeline, read by train.

One type for both sides, so the file's layout is spelled once.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from pipeline import artifacts, outputs
from pipeline.errors import PipelineError

REDO_PREPROCESS = "re-run preprocess (dvc repro --force -s preprocess)"  # the fix for its outputs


@dataclasses.dataclass(frozen=True)
class SplitStats:
    """One split's statistics. Pixel statistics are of the scaled source examples, one per
    channel (a plain number in the file where there is one channel)."""

    examples: int  # source examples: the split's share of the raw data
    records: int  # records in the split's files: examples, plus train's augmented copies
    examples_per_class: tuple[int, ...]  # source examples of each class, by class id
    pixel_mean: tuple[float, ...]
    pixel_std: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["examples_per_class"] = {str(c): n for c, n in enumerate(self.examples_per_class)}
        for name in ("pixel_mean", "pixel_std"):
            data[name] = data[name][0] if len(data[name]) == 1 else list(data[name])
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
        ordered = [per_class[str(c)] for c in range(len(per_class))]
        counts = (data["examples"], data["records"], *ordered)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
            raise ValueError("a count is not an integer >= 0")
        means, stds = (_per_channel(data[name], name) for name in ("pixel_mean", "pixel_std"))
        return cls(data["examples"], data["records"], tuple(ordered), means, stds)


def _per_channel(value: Any, name: str) -> tuple[float, ...]:
    values = value if isinstance(value, list) else [value]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not values or not numbers:
        raise ValueError(f"{name} is not a number per channel")
    return tuple(float(v) for v in values)


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

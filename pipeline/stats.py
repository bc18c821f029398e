"""`stats.json`, preprocess's statistics of each split: written by its pipeline, read by train.

One type for both sides, so the file's layout is spelled once.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from pipeline import artifacts, outputs, schema
from pipeline.errors import PipelineError

REDO_PREPROCESS = "re-run preprocess (dvc repro --force preprocess)"  # the fix for its outputs


@dataclasses.dataclass(frozen=True)
class SplitStats:
    """One split's statistics. Pixel statistics are of the scaled source examples."""

    examples: int  # source examples: the split's share of the raw data
    records: int  # records in the split's files: examples, plus train's augmented copies
    examples_per_class: tuple[int, ...]  # source examples of each class, 0 to NUM_CLASSES - 1
    pixel_mean: float
    pixel_std: float

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["examples_per_class"] = {str(c): n for c, n in enumerate(self.examples_per_class)}
        return data

    @classmethod
    def from_json(cls, data: Any) -> SplitStats:
        """Raises ValueError for anything but what `to_json` writes."""
        if not isinstance(data, dict) or set(data) != {f.name for f in dataclasses.fields(cls)}:
            raise ValueError("not a split's statistics")
        per_class = data["examples_per_class"]
        classes = [str(c) for c in range(schema.NUM_CLASSES)]
        if not isinstance(per_class, dict) or list(per_class) != classes:
            raise ValueError("examples_per_class is not a count per class")
        counts = (data["examples"], data["records"], *per_class.values())
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
            raise ValueError("a count is not an integer >= 0")
        if not all(isinstance(data[k], int | float) for k in ("pixel_mean", "pixel_std")):
            raise ValueError("a pixel statistic is not a number")
        return cls(**{**data, "examples_per_class": tuple(per_class.values())})


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

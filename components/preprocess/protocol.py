"""What preprocess's Beam pipeline and the process that launched it tell each other, through
files in the output folder (Beam's FileSystems, so on any filesystem a runner writes to):
a worker's sign that work started (`StartMark`), and the pipeline's report (`Outcome`), all
the launcher reads of the data: it never reads a record.
"""

from __future__ import annotations

import dataclasses
import json

from apache_beam.io.filesystems import FileSystems

from pipeline import artifacts, stats
from pipeline.record import Record
from pipeline.stats import SplitStats

REPORT_FILE = ".report.json"  # the pipeline's report to the launcher, removed once read
STARTED_FILE = ".started"  # left by the first worker to read: the launcher's sign of life


@dataclasses.dataclass(frozen=True)
class Outcome(Record):
    """What the pipeline tells the launcher: the statistics, every anomaly found, and per
    split the names of preprocess.exclude's file that its examples answer to, and how many
    examples answer to them."""

    stats: dict[str, SplitStats]
    anomalies: list[str]
    named: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    named_examples: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class StartMark:
    """The sign a worker leaves when it starts work, in the output folder: how the launcher
    tells a slow start from workers that never start (components.preprocess.runner)."""

    out_dir: str

    @property
    def path(self) -> str:
        return FileSystems.join(self.out_dir, STARTED_FILE)

    def leave(self) -> None:
        with FileSystems.create(self.path):
            pass

    def left(self) -> bool:
        return FileSystems.exists(self.path)


def write_outcome(outcome: Outcome, out_dir: str) -> None:
    """Writes `stats.json` (an artifact) and the report the launcher reads."""
    for name, text in (
        (artifacts.STATS_FILE, stats.dumps(outcome.stats)),
        (REPORT_FILE, json.dumps(outcome.to_json(), sort_keys=True)),
    ):
        with FileSystems.create(FileSystems.join(out_dir, name)) as file:
            file.write(text.encode())


def read_outcome(out_dir: str) -> Outcome:
    """The pipeline's report; it and the started mark are removed from `out_dir`."""
    path = FileSystems.join(out_dir, REPORT_FILE)
    with FileSystems.open(path) as file:
        outcome = Outcome.from_json(json.loads(file.read()))
    started = FileSystems.join(out_dir, STARTED_FILE)
    FileSystems.delete([path, started] if FileSystems.exists(started) else [path])
    return outcome

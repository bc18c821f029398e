"""The pipeline's report files as typed records, each written and read through its type.

- `TrainingMetrics`: train's last-epoch loss and accuracy on train and validation, the
  summary DVCLive writes (`dvclive/metrics.json`);
- `HeadlineMetrics`: evaluate's headline metrics (`reports/metrics.json`);
- `Blessing`: evaluate's verdict, the check that decided it and both models' scores
  (`reports/blessing.json`).

mnist-compare and mnist-tune read these files back (from `dvc exp show --json` or an
experiment's commit) through the same types, so a renamed field fails loudly there
instead of showing as `-`.
"""

from __future__ import annotations

import dataclasses

from pipeline.record import Record


@dataclasses.dataclass(frozen=True)
class Score(Record):
    """A model's loss and accuracy on one split."""

    accuracy: float
    loss: float


@dataclasses.dataclass(frozen=True)
class TrainingMetrics(Record):
    """The last epoch's scores, as train's DVCLive summary holds them."""

    train: Score
    val: Score


@dataclasses.dataclass(frozen=True)
class HeadlineMetrics(Record):
    """Evaluate's headline metrics: the candidate's test scores, and whether it was blessed."""

    test: Score
    blessed: bool


@dataclasses.dataclass(frozen=True)
class ClassScores(Record):
    """One class's test precision, recall and F1, and its errors counted both ways."""

    precision: float
    recall: float
    f1: float
    missed: int  # test examples of the class predicted as another
    false_alarms: int  # test examples of another class predicted as this one


@dataclasses.dataclass(frozen=True)
class Candidate(Record):
    """The model just trained: its `.keras` file's SHA-256 and its test scores."""

    model_sha256: str
    test: Score


@dataclasses.dataclass(frozen=True)
class Baseline(Record):
    """The model serving when the candidate was judged, scored on the same test split."""

    version: int
    model_sha256: str | None  # None for a version pushed by other means
    test: Score


@dataclasses.dataclass(frozen=True)
class Thresholds(Record):
    min_accuracy: float
    max_accuracy_drop: float


@dataclasses.dataclass(frozen=True)
class Blessing(Record):
    """Whether the candidate is good enough to serve, which check decided, and why."""

    blessed: bool
    check: str  # "value" or "change", TFX's two thresholds
    reason: str
    candidate: Candidate
    baseline: Baseline | None
    thresholds: Thresholds
    pushed_version: int | None

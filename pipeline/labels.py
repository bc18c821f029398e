"""Label audit: which given labels a model's out-of-sample probabilities doubt, ranked.

Confident learning (Northcutt, Jiang and Chuang, "Confident Learning: Estimating
Uncertainty in Dataset Labels", 2021) through `cleanlab`: an example is flagged when the
confident joint of given and predicted classes says its given class holds more wrong
labels than the examples ranked below it (`prune_by_noise_rate`), and the flagged are
ranked by self-confidence, the model's probability of the given label, lowest first.
evaluate audits the test and validation splits with the model it scores; mnist-audit
audits the training split with K-fold out-of-fold probabilities. Both gather the
probabilities batch by batch in a `Probabilities`, and write the result as a `LabelIssues`.

Memory follows the bound, not the split: up to `MEMORY_BOUND` bytes of N x classes
probabilities are held in memory and audited by `cleanlab.filter.find_label_issues`;
beyond it they go to a memory-mapped scratch file, which cleanlab's
`find_label_issues_batched` reads in two streaming passes (per-class thresholds, then
scores). cleanlab is imported when an audit runs, not with this module.
"""

from __future__ import annotations

import dataclasses
import tempfile
import warnings
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.record import Record

MEMORY_BOUND = 256 << 20  # bytes of N x classes float32 probabilities held in memory
_BATCH = 10_000  # rows a streaming pass reads at a time
_AUGMENTED = b"-aug"  # schema.copy_key's suffix


@dataclasses.dataclass(frozen=True)
class Flagged(Record):
    """One example whose given label the model doubts."""

    rank: int  # 1: the most doubtful
    key: str
    file: str | None  # the image's path in a folder dataset, else None
    given: str  # class names
    suggested: str
    score: float  # self-confidence: the model's probability of the given class


@dataclasses.dataclass(frozen=True)
class SplitAudit(Record):
    """A split's audit: how many examples were audited, and every one flagged, ranked."""

    audited: int
    flagged: tuple[Flagged, ...]


@dataclasses.dataclass(frozen=True)
class LabelIssues(Record):
    """The label report (`reports/label_issues.json`, `reports/label_issues_train.json`)."""

    splits: dict[str, SplitAudit]


@dataclasses.dataclass(frozen=True)
class LabelMetrics(Record):
    """evaluate's label metrics (`reports/label_metrics.json`): examples flagged per split."""

    flagged: dict[str, int]


@dataclasses.dataclass(frozen=True)
class Ranked:
    """An audit's verdict, by position in the split: the flagged, most doubtful first."""

    audited: int
    indices: np.ndarray  # positions of the flagged examples, ranked
    given: np.ndarray  # their given classes
    suggested: np.ndarray  # the model's most probable classes
    scores: np.ndarray  # self-confidence


def file_name(key: bytes) -> str | None:
    """The file an example's key names in a folder dataset (`<hash>:<path>`), else None."""
    _, colon, path = key.partition(b":")
    return path.decode() if colon else None


def source_key(key: bytes) -> bytes:
    """The key of the source example an augmented copy was made from (itself if none)."""
    stem, found, copy = key.rpartition(_AUGMENTED)
    return stem if found and copy.isdigit() else key


class Probabilities:
    """A split's out-of-sample probabilities and given labels, gathered batch by batch."""

    def __init__(self, split: str, count: int, num_classes: int, bound: int = MEMORY_BOUND):
        """
        Raises:
            PipelineError: for an empty split.
        """
        if count == 0:
            raise PipelineError(f"label audit: the {split} split is empty; re-run preprocess")
        self.split, self.count = split, count
        self.labels = np.full(count, -1, np.int64)
        self._scratch = None
        if count * num_classes * 4 <= bound:
            self.values = np.empty((count, num_classes), np.float32)
        else:
            self._scratch = tempfile.TemporaryDirectory(prefix="label-audit-")
            path = Path(self._scratch.name) / "probabilities.npy"
            self.values = np.lib.format.open_memmap(path, "w+", np.float32, (count, num_classes))
        self._filled = 0

    def add(self, labels: np.ndarray, probabilities: np.ndarray, at: np.ndarray | None = None):
        """Counts a batch in: at the next positions in order, or at positions `at`."""
        if at is None:
            at = np.arange(self._filled, self._filled + len(labels))
        self.labels[at], self.values[at] = labels, probabilities
        self._filled += len(labels)

    def rank(self) -> Ranked:
        """The flagged examples, ranked (confident learning, `prune_by_noise_rate`)."""
        if self._filled != self.count or (self.labels < 0).any():
            raise ValueError(f"{self.split}: {self._filled} of {self.count} examples were added")
        order = np.sort(self._flagged().astype(np.int64))
        rows, given = np.asarray(self.values[order]), self.labels[order]
        scores = rows[np.arange(len(order)), given]
        ranked = np.lexsort((order, scores))  # lowest self-confidence first, ties by position
        result = Ranked(
            self.count, order[ranked], given[ranked], rows.argmax(axis=1)[ranked], scores[ranked]
        )
        if self._scratch is not None:
            del self.values
            self._scratch.cleanup()
        return result

    def _flagged(self) -> np.ndarray:
        from cleanlab.experimental.label_issues_batched import find_label_issues_batched
        from cleanlab.filter import find_label_issues

        if len(np.unique(self.labels)) < 2:  # no other class to doubt a label for
            return np.empty(0, np.int64)
        # n_jobs=1: cleanlab's worker processes would fork a process holding TensorFlow.
        with warnings.catch_warnings():
            # A small class "may not flag all label issues": true of any small split, and
            # the stage's lines would be cleanlab's, past 120 columns.
            warnings.filterwarnings("ignore", "May not flag all", UserWarning)
            if self._scratch is None:
                return np.asarray(
                    find_label_issues(
                        self.labels, self.values, filter_by="prune_by_noise_rate", n_jobs=1
                    ).nonzero()[0]
                )
            return np.asarray(
                find_label_issues_batched(
                    labels=self.labels,
                    pred_probs=self.values,
                    batch_size=_BATCH,
                    n_jobs=1,
                    verbose=False,
                )
            )


def flagged(ranked: Ranked, keys: dict[int, bytes], classes: tuple[str, ...]) -> SplitAudit:
    """The audit as the report lists it: `keys` holds each flagged position's key."""
    return SplitAudit(
        ranked.audited,
        tuple(
            Flagged(
                rank=rank,
                key=keys[int(index)].decode(errors="replace"),
                file=file_name(keys[int(index)]),
                given=classes[int(given)],
                suggested=classes[int(suggested)],
                score=round(float(score), 6),
            )
            for rank, (index, given, suggested, score) in enumerate(
                zip(ranked.indices, ranked.given, ranked.suggested, ranked.scores, strict=True),
                start=1,
            )
        ),
    )

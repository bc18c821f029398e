"""Label audit: which given labels a model's out-of-sample probabilities doubt, ranked.

Confident learning (Northcutt, Jiang and Chuang, "Confident Learning: Estimating
Uncertainty in Dataset Labels", JAIR 2021), written from the paper in numpy:

1. each class's threshold t_j is the mean self-confidence of the examples given class j
   (their probability of j);
2. the confident joint C[i][j] counts the examples given i whose probability of j is at
   least t_j (of several such classes, the most probable);
3. calibrated so that row i sums to the examples given i, C[i][j] rounded is how many of
   them `prune_by_noise_rate` flags for j: those of largest margin p_j - p_i (leaving at
   least one example of each class);
4. an example the model predicts as its given class is not flagged, and the flagged are
   ranked by self-confidence, lowest first.

Measured reason for not using `cleanlab`, which does this: it brings scikit-learn and
pandas, and Keras imports scikit-learn (its wrappers), and scikit-learn pandas, whenever
they are installed: over a second more for every process that imports Keras, train's,
evaluate's and the tools', against the 1.5 s the whole audit may add to evaluate
(docs/design.md, "Label audit").

Memory follows a bound, not the split: up to `MEMORY_BOUND` bytes of N x classes
probabilities are held in memory; beyond it they go to a memory-mapped scratch file that
each step reads `_BATCH` rows at a time. Either way only vectors of N values are held.
evaluate audits the test and validation splits with the model it scores; mnist-audit
audits the training split with K-fold out-of-fold probabilities. Both gather the
probabilities batch by batch in a `Probabilities` and write the result as a `LabelIssues`.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
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


def by_source(ranked: Ranked, keys: dict[int, bytes]) -> tuple[Ranked, dict[int, bytes]]:
    """The audit with each augmented copy standing for its source example, once, at the rank
    of its most doubted copy: the key preprocess.exclude drops with all its copies, and the
    file a folder dataset holds (a copy's key names no file)."""
    seen: set[bytes] = set()
    keep = []
    for n, index in enumerate(ranked.indices):
        source = source_key(keys[int(index)])
        if source not in seen:
            seen.add(source)
            keep.append(n)
    chosen = np.asarray(keep, np.int64)
    kept = dataclasses.replace(
        ranked,
        indices=ranked.indices[chosen],
        given=ranked.given[chosen],
        suggested=ranked.suggested[chosen],
        scores=ranked.scores[chosen],
    )
    return kept, {int(i): source_key(keys[int(i)]) for i in kept.indices}


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

    def _rows(self) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
        """(rows, their given labels, their probabilities), `_BATCH` rows at a time."""
        for start in range(0, self.count, _BATCH):
            rows = slice(start, min(start + _BATCH, self.count))
            yield rows, self.labels[rows], np.asarray(self.values[rows])

    def _flagged(self) -> np.ndarray:
        classes = self.values.shape[1]
        given_counts = np.bincount(self.labels, minlength=classes)
        if np.count_nonzero(given_counts) < 2:  # no other class to doubt a label for
            return np.empty(0, np.int64)
        # 1. Thresholds; a class no example is given is never a confident one.
        sums = np.zeros(classes)
        for _, given, probabilities in self._rows():
            np.add.at(sums, given, probabilities[np.arange(len(given)), given])
        with np.errstate(invalid="ignore", divide="ignore"):
            thresholds = np.where(given_counts > 0, sums / given_counts, np.inf)
        # 2. The confident joint, and each example's most probable class.
        joint = np.zeros((classes, classes), np.int64)
        predicted = np.empty(self.count, np.int64)
        for rows, given, probabilities in self._rows():
            above = probabilities >= thresholds
            confident = np.where(above, probabilities, -1.0).argmax(axis=1)
            counted = above.any(axis=1)
            np.add.at(joint, (given[counted], confident[counted]), 1)
            predicted[rows] = probabilities.argmax(axis=1)
        # 3. Calibrated to the examples given each class: how many to flag per pair.
        with np.errstate(invalid="ignore", divide="ignore"):
            calibrated = joint / joint.sum(axis=1, keepdims=True) * given_counts[:, None]
        to_flag = np.minimum(np.rint(np.nan_to_num(calibrated)), given_counts[:, None] - 1)
        flagged = np.zeros(self.count, bool)
        for given_class, other in zip(*np.nonzero(to_flag), strict=True):
            if given_class != other:
                flagged[
                    self._largest_margins(given_class, other, int(to_flag[given_class, other]))
                ] = True
        # 4. Not doubted where the model agrees with the label.
        return np.flatnonzero(flagged & (predicted != self.labels))

    def _largest_margins(self, given_class: int, other: int, count: int) -> np.ndarray:
        """Positions of the `count` examples given `given_class` of largest p_other - p_given."""
        positions, margins = [], []
        for rows, given, probabilities in self._rows():
            mine = np.flatnonzero(given == given_class)
            positions.append(mine + rows.start)
            margins.append(probabilities[mine, other] - probabilities[mine, given_class])
        margin = np.concatenate(margins)
        order = np.lexsort((np.concatenate(positions), -margin))  # ties by position
        return np.concatenate(positions)[order[:count]]


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

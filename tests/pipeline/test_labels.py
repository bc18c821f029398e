import numpy as np
import pytest

from pipeline import labels
from pipeline.errors import PipelineError

# Two classes, eight examples (p = the probabilities of class 0 and 1), worked by hand from
# the paper's definitions (Northcutt et al. 2021, section 3):
# - per-class thresholds, the mean self-confidence of each given class:
#   t0 = mean(.9, .8, .9, .1) = .675; t1 = mean(.8, .9, .7, .2) = .65;
# - the confident joint counts each example under (given, the class whose probability is
#   at least its threshold): example 3 (given 0, p1 .9 >= t1, p0 .1 < t0) in C[0][1],
#   example 7 (given 1, p0 .8 >= t0) in C[1][0], every other on the diagonal: C = [[3, 1],
#   [1, 3]], already calibrated (its rows sum to the 4 and 4 examples given each class);
# - prune_by_noise_rate leaves out, for each off-diagonal C[i][j], the C[i][j] examples given
#   i of largest margin p_j - p_i: example 3 (.9 - .1) and example 7 (.8 - .2);
# - ranked by self-confidence, lowest first: 3 (p0 .1), then 7 (p1 .2).
_GIVEN = np.array([0, 0, 0, 0, 1, 1, 1, 1])
_P1 = np.array([0.1, 0.2, 0.1, 0.9, 0.8, 0.9, 0.7, 0.2], np.float32)
_HAND = np.stack([1 - _P1, _P1], axis=1)


@pytest.fixture(params=["in-memory", "streamed"])
def bound(request, monkeypatch) -> int:
    """The memory bound of both ways: in memory, or a scratch file read 3 rows at a time."""
    if request.param == "in-memory":
        return labels.MEMORY_BOUND
    monkeypatch.setattr(labels, "_BATCH", 3)
    return 0


def test_the_hand_worked_example_flags_and_ranks_as_the_paper_defines(bound):
    gathered = labels.Probabilities("test", len(_GIVEN), 2, bound=bound)
    assert isinstance(gathered.values, np.memmap) == (bound == 0)
    gathered.add(_GIVEN[:5], _HAND[:5])
    gathered.add(_GIVEN[5:], _HAND[5:])
    ranked = gathered.rank()
    assert ranked.audited == 8
    assert ranked.indices.tolist() == [3, 7]
    assert ranked.given.tolist() == [0, 1]
    assert ranked.suggested.tolist() == [1, 0]
    assert ranked.scores.tolist() == pytest.approx([0.1, 0.2])


def _noisy(n: int, classes: int, flipped: int, seed: int = 0):
    """A model sure of each example's true class (.91, and .01 for each other of ten), then
    `flipped` given labels changed: each class's threshold is then just under .91, so every
    flipped example counts in the confident joint off its diagonal."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, classes, n)
    probabilities = np.full((n, classes), 0.09 / (classes - 1), np.float32)
    probabilities[np.arange(n), true] = 0.91
    flips = rng.choice(n, flipped, replace=False)
    given = true.copy()
    given[flips] = (given[flips] + rng.integers(1, classes, flipped)) % classes
    return given, probabilities, flips


def test_flipped_labels_are_found_in_any_order_of_arrival(bound):
    given, probabilities, flips = _noisy(3000, 10, 30)
    gathered = labels.Probabilities("train", 3000, 10, bound=bound)
    order = np.random.default_rng(1).permutation(3000)
    for chunk in np.array_split(order, 7):  # as K folds deliver them
        gathered.add(given[chunk], probabilities[chunk], at=chunk)
    ranked = gathered.rank()
    assert set(ranked.indices.tolist()) == set(flips.tolist())
    assert np.all(np.diff(ranked.scores) >= 0)
    assert np.array_equal(ranked.given, given[ranked.indices])
    assert np.array_equal(ranked.suggested, probabilities[ranked.indices].argmax(axis=1))


@pytest.mark.parametrize("given", [[0, 1, 3], [2, 2, 2], [1]], ids=["small", "one-class", "one"])
def test_a_tiny_split_is_audited_without_a_warning(bound, given, recwarn):
    probabilities = np.random.default_rng(0).dirichlet(np.ones(4), len(given))
    gathered = labels.Probabilities("validation", len(given), 4, bound=bound)
    gathered.add(np.array(given), probabilities.astype(np.float32))
    ranked = gathered.rank()
    assert set(ranked.indices.tolist()) <= set(range(len(given)))
    if len(set(given)) == 1:
        assert len(ranked.indices) == 0  # no other class given to compare it with
    assert not recwarn.list


def test_held_in_memory_or_streamed_the_verdict_is_the_same(monkeypatch):
    # Noisy probabilities, where thresholds, ties and margins all matter.
    rng = np.random.default_rng(3)
    given = rng.integers(0, 5, 500)
    probabilities = rng.dirichlet(np.full(5, 0.5), 500).astype(np.float32)
    verdicts = []
    for bound, batch in ((labels.MEMORY_BOUND, 10_000), (0, 7)):
        monkeypatch.setattr(labels, "_BATCH", batch)
        gathered = labels.Probabilities("test", 500, 5, bound=bound)
        gathered.add(given, probabilities)
        verdicts.append(gathered.rank())
    assert len(verdicts[0].indices) > 0
    for field in ("indices", "given", "suggested", "scores"):
        assert np.array_equal(getattr(verdicts[0], field), getattr(verdicts[1], field))


def test_an_empty_split_is_one_line_naming_it():
    with pytest.raises(PipelineError, match="the validation split is empty; re-run preprocess"):
        labels.Probabilities("validation", 0, 10)


def test_ranking_before_every_example_is_in_is_a_bug_said_so():
    gathered = labels.Probabilities("test", 8, 2)
    gathered.add(_GIVEN[:5], _HAND[:5])
    with pytest.raises(ValueError, match="5 of 8 examples"):
        gathered.rank()


def test_the_report_names_keys_files_and_classes_and_reads_back():
    ranked = labels.Ranked(
        audited=8,
        indices=np.array([3, 7]),
        given=np.array([0, 1]),
        suggested=np.array([1, 0]),
        scores=np.array([0.1, 0.2], np.float32),
    )
    keys = {3: b"1a2b3c4d:train/cat/0003.png", 7: b"test-00007"}
    audit = labels.flagged(ranked, keys, ("cat", "dog"))
    assert [(f.rank, f.key, f.file, f.given, f.suggested) for f in audit.flagged] == [
        (1, "1a2b3c4d:train/cat/0003.png", "train/cat/0003.png", "cat", "dog"),
        (2, "test-00007", None, "dog", "cat"),
    ]
    report = labels.LabelIssues({"test": audit})
    assert labels.LabelIssues.from_json(report.to_json()) == report


def test_an_augmented_copy_knows_its_source():
    assert labels.source_key(b"train-00042-aug3") == b"train-00042"
    assert labels.source_key(b"ab:train/x-aug/1.png") == b"ab:train/x-aug/1.png"
    assert labels.source_key(b"train-00042") == b"train-00042"


def test_augmented_copies_stand_for_their_source_once_at_its_most_doubted_rank():
    ranked = labels.Ranked(
        audited=9,
        indices=np.array([4, 0, 5, 8]),
        given=np.array([0, 0, 1, 1]),
        suggested=np.array([1, 1, 0, 0]),
        scores=np.array([0.1, 0.2, 0.3, 0.4], np.float32),
    )
    keys = {
        4: b"1a:train/cat/0.png-aug1",  # a copy, doubted before its source
        0: b"1a:train/cat/0.png",
        5: b"train-00005",
        8: b"train-00005-aug2",
    }
    kept, named = labels.by_source(ranked, keys)
    audit = labels.flagged(kept, named, ("cat", "dog"))
    assert [(f.rank, f.key, f.file, f.score) for f in audit.flagged] == [
        (1, "1a:train/cat/0.png", "train/cat/0.png", 0.1),
        (2, "train-00005", None, 0.3),
    ]
    assert audit.audited == 9

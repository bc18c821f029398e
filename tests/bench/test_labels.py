"""bench.labels' own arithmetic: the flips it makes and the precision and recall it reports."""

from __future__ import annotations

import numpy as np
import pytest

from bench import labels


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.5])
def test_flipping_changes_the_fraction_asked_each_to_another_class(rate):
    given = np.arange(2000) % 10
    noisy = labels.flip(given, rate, 10, seed=3)
    changed = noisy != given
    assert changed.sum() == round(rate * len(given))
    assert noisy.min() >= 0 and noisy.max() <= 9
    assert np.array_equal(given, np.arange(2000) % 10)  # the input is left as it was


def test_flipping_is_seeded():
    given = np.arange(5000) % 10
    first, again = (labels.flip(given, 0.05, 10, seed=7) for _ in range(2))
    other = labels.flip(given, 0.05, 10, seed=8)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_flip_reaches_every_other_class():
    given = np.zeros(20_000, np.int64)
    noisy = labels.flip(given, 0.5, 10, seed=1)
    assert set(np.unique(noisy[noisy != 0]).tolist()) == set(range(1, 10))


def test_precision_and_recall_count_the_flagged_that_were_flipped():
    found = labels.precision_recall({"a", "b", "c", "d"}, {"b", "d", "e"})
    assert found == {"flagged": 4, "flipped": 3, "hits": 2, "precision": 0.5, "recall": 2 / 3}


def test_nothing_flagged_or_nothing_flipped_has_no_precision_or_recall():
    assert labels.precision_recall(set(), {"a"})["precision"] is None
    assert labels.precision_recall({"a"}, set())["recall"] is None
    assert labels.precision_recall({"a"}, {"a"})["precision"] == 1.0


def test_the_noisy_folder_files_each_flipped_digit_under_its_given_class(tmp_path):
    rng = np.random.default_rng(0)
    mnist = {}
    for split, n in (("train", 300), ("test", 100)):
        mnist[f"{split}_images"] = rng.integers(0, 256, (n, 4, 4), dtype=np.uint8)
        mnist[f"{split}_labels"] = np.arange(n) % 10
    truth = labels.noisy_folder(mnist, tmp_path, 0.1)
    assert len([f for f in truth if f.startswith("train/")]) == 30
    assert len([f for f in truth if f.startswith("test/")]) == 10
    files = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.png")}
    assert len(files) == 400
    for name, true in truth.items():
        split, folder, file = name.split("/")
        index = int(file.removesuffix(".png").split("-")[1])
        assert name in files and int(folder) != true == mnist[f"{split}_labels"][index]
    unflipped = files - set(truth)
    for name in unflipped:
        split, folder, file = name.split("/")
        assert int(folder) == int(file.removesuffix(".png").split("-")[1]) % 10


def _row(precision, recall):
    return {"flagged": 10, "flipped": 10, "hits": 9, "precision": precision, "recall": recall}


@pytest.mark.parametrize(
    ("precision", "recall", "verdict"),
    [(0.8, 0.9, "met"), (0.95, 0.89, "missed"), (0.79, 1.0, "missed"), (None, None, "NO")],
)
def test_the_goal_needs_both_recall_and_precision(precision, recall, verdict):
    assert labels._goal(_row(precision, recall)).startswith(verdict)


def _result(model, rate, precision, recall):
    found = _row(precision, recall)
    accuracy = {"given": 0.98, "true": 0.99}
    return {
        "model": model,
        "rate": rate,
        **{split: found for split in ("test", "validation", "train")},
        **{"accuracy_before": accuracy, "accuracy_after": accuracy},
        **{"train_s": 100.0, "audit_s": 450.0},
    }


def test_the_table_lists_rows_by_rate_then_model_and_judges_the_cnn_at_one_percent():
    rows = {
        "mlp_0.05": _result("mlp", 0.05, 0.5, 0.5),
        "mlp_0.01": _result("mlp", 0.01, 0.5, 0.5),
        "cnn_0.01": _result("cnn", 0.01, 0.85, 0.95),
    }
    text = labels.table({"rows": rows, "folds": 5, "seconds": 60})
    dropped = [line for line in text.splitlines() if line.startswith("| ") and "4.5" in line]
    assert [line.split(" | ")[:2] for line in dropped] == [
        ["| 1%", "cnn"],
        ["| 1%", "mlp"],
        ["| 5%", "mlp"],
    ]
    assert text.count(": met") == 2  # test and train

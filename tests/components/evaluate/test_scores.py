import numpy as np
import pytest

from components.evaluate.scores import Misclassified, Scorer
from pipeline.reports import ClassScores


def test_scores_of_a_hand_made_case():
    labels = np.array([0, 0, 1, 1, 2])
    probabilities = np.full((5, 10), 0.01)
    for row, predicted in enumerate([0, 1, 1, 1, 0]):
        probabilities[row, predicted] = 0.91
    scorer = Scorer()
    # In two batches, as the test split streams past.
    assert scorer.add(labels[:2], probabilities[:2]).tolist() == [0, 1]
    assert scorer.add(labels[2:], probabilities[2:]).tolist() == [1, 1, 0]
    score, per_class = scorer.score(), scorer.per_class()
    assert score.accuracy == pytest.approx(3 / 5)
    expected_loss = -np.mean(np.log([0.91, 0.01, 0.91, 0.91, 0.01]))
    assert score.loss == pytest.approx(expected_loss)
    # Class 0: predicted twice, right once; class 1: predicted 3 times, right twice.
    assert per_class["0"] == ClassScores(0.5, 0.5, 0.5, missed=1, false_alarms=1)
    assert per_class["1"].precision == pytest.approx(2 / 3) and per_class["1"].recall == 1.0
    assert per_class["2"] == ClassScores(0.0, 0.0, 0.0, missed=1, false_alarms=0)  # never right
    assert list(per_class) == [str(c) for c in range(10)]


def test_a_certain_wrong_answer_costs_a_bounded_loss():
    probabilities = np.zeros((1, 10))
    probabilities[0, 3] = 1.0
    scorer = Scorer()
    scorer.add(np.array([4]), probabilities)
    assert scorer.score().loss == pytest.approx(-np.log(1e-7))  # clipped as Keras clips


def test_the_grid_keeps_the_first_misclassified_digits_ten_to_a_row():
    wrong = Misclassified(limit=12)
    images = np.random.default_rng(0).random((20, 28, 28, 1)).astype(np.float32)
    labels, predicted = np.zeros(20, int), np.r_[np.zeros(5, int), np.ones(15, int)]
    wrong.add(images[:10], labels[:10], predicted[:10])
    wrong.add(images[10:], labels[10:], predicted[10:])
    assert len(wrong.digits) == 12
    np.testing.assert_array_equal(wrong.digits[0][0], images[5])  # the first wrong one
    assert wrong.grid().size == (10 * 84, 2 * (84 + 16))

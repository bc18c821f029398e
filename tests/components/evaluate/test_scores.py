import numpy as np
import pytest

from components.evaluate.scores import Misclassified, Scorer
from pipeline.reports import ClassScores
from tests.support.records import MNIST, PETS


def test_scores_of_a_hand_made_case():
    labels = np.array([0, 0, 1, 1, 2])
    probabilities = np.full((5, 10), 0.01)
    for row, predicted in enumerate([0, 1, 1, 1, 0]):
        probabilities[row, predicted] = 0.91
    scorer = Scorer(10)
    # In two batches, as the test split streams past.
    assert scorer.add(labels[:2], probabilities[:2]).tolist() == [0, 1]
    assert scorer.add(labels[2:], probabilities[2:]).tolist() == [1, 1, 0]
    score, per_class = scorer.score(), scorer.per_class(MNIST.classes)
    assert score.accuracy == pytest.approx(3 / 5)
    expected_loss = -np.mean(np.log([0.91, 0.01, 0.91, 0.91, 0.01]))
    assert score.loss == pytest.approx(expected_loss)
    # Class 0: predicted twice, right once; class 1: predicted 3 times, right twice.
    assert per_class["0"] == ClassScores(0.5, 0.5, 0.5, missed=1, false_alarms=1)
    assert per_class["1"].precision == pytest.approx(2 / 3) and per_class["1"].recall == 1.0
    assert per_class["2"] == ClassScores(0.0, 0.0, 0.0, missed=1, false_alarms=0)  # never right
    assert list(per_class) == [str(c) for c in range(10)]


def test_per_class_scores_go_by_the_schemas_class_names():
    # cat, dog, fish, newt: a cat taken for a dog, a fish for a cat; newts never seen.
    labels, predicted = np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0])
    scorer = Scorer(PETS.num_classes)
    scorer.add(labels, np.eye(PETS.num_classes)[predicted])
    per_class = scorer.per_class(PETS.classes)
    assert list(per_class) == ["cat", "dog", "fish", "newt"]
    assert per_class["cat"] == ClassScores(0.5, 0.5, 0.5, missed=1, false_alarms=1)
    assert per_class["dog"] == ClassScores(0.5, 1.0, pytest.approx(2 / 3), 0, 1)
    assert per_class["fish"] == ClassScores(1.0, 0.5, pytest.approx(2 / 3), 1, 0)
    assert per_class["newt"] == ClassScores(0.0, 0.0, 0.0, missed=0, false_alarms=0)
    assert scorer.score().accuracy == pytest.approx(3 / 5)


def test_a_certain_wrong_answer_costs_a_bounded_loss():
    probabilities = np.zeros((1, 10))
    probabilities[0, 3] = 1.0
    scorer = Scorer(10)
    scorer.add(np.array([4]), probabilities)
    assert scorer.score().loss == pytest.approx(-np.log(1e-7))  # clipped as Keras clips


def test_the_grid_keeps_the_first_misclassified_digits_ten_to_a_row():
    wrong = Misclassified(MNIST, limit=12)
    images = np.random.default_rng(0).random((20, 28, 28, 1)).astype(np.float32)
    labels, predicted = np.zeros(20, int), np.r_[np.zeros(5, int), np.ones(15, int)]
    wrong.add(images[:10], labels[:10], predicted[:10])
    wrong.add(images[10:], labels[10:], predicted[10:])
    assert len(wrong.images) == 12
    np.testing.assert_array_equal(wrong.images[0][0], images[5])  # the first wrong one
    grid = wrong.grid()
    assert grid.mode == "L" and grid.size == (10 * 84, 2 * (84 + 16))
    # Digits are drawn dark on white: a white pixel of the image is black in the grid.
    one = np.zeros((1, 28, 28, 1), np.float32)
    one[0, 0, 0, 0] = 1.0
    single = Misclassified(MNIST)
    single.add(one, np.array([3]), np.array([8]))
    cell = np.asarray(single.grid())[:84, :84]
    assert cell[0, 0] == 0 and cell[83, 83] == 255


def test_colour_images_keep_their_colours_enlarged_to_the_cell_keeping_their_shape():
    red = np.zeros((1, *PETS.image_shape), np.float32)
    red[..., 0] = 1.0
    wrong = Misclassified(PETS)
    wrong.add(red, np.array([3]), np.array([0]))
    grid = wrong.grid()
    assert grid.mode == "RGB" and grid.width == 10 * 84 and grid.height > 84
    cell = np.asarray(grid)[:84]
    # 12 rows of 10 pixels, 7 times: 84 by 70, the rest of the cell left white.
    assert cell[:, :70].reshape(-1, 3).tolist() == [[255, 0, 0]] * (84 * 70)
    assert cell[:, 70:84].min() == 255


def test_with_nothing_misclassified_the_grid_says_so_rather_than_stay_blank():
    right = Misclassified(MNIST)
    images = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    right.add(images, np.arange(5), np.arange(5))
    grid = np.asarray(right.grid())
    assert grid.shape == (84 + 16, 10 * 84)  # one row, as with a few wrong
    assert grid[:16].min() < 128 and grid[16:].min() == 255  # a line of text at the top

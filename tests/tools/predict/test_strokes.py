import numpy as np
import pytest

from tools.predict import strokes

SIDE = 128
NOISE = 0.01


def _paper(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, NOISE, (SIDE, SIDE))


def _seven(ink: np.ndarray, top: int, left: int, level: float = 0.8) -> np.ndarray:
    """Draws a 7 (a bar and a slanting stroke, 6 pixels wide) with its corner at top, left;
    returns its pixels."""
    drawn = np.zeros(ink.shape, bool)
    drawn[top : top + 6, left : left + 40] = True
    for row in range(top + 6, top + 60):
        col = left + 40 - (row - top) // 3
        drawn[row, col - 6 : col] = True
    ink[drawn] += level
    return drawn


def test_the_digit_is_its_largest_strokes_without_the_specks():
    ink = _paper()
    seven = _seven(ink, 30, 40)
    specks = [(5, 5), (110, 20), (15, 110), (100, 100)]
    for row, col in specks:
        ink[row : row + 2, col : col + 2] += 0.8
    found = strokes.find(ink, NOISE)
    assert found is not None
    assert found.mask[seven].all()
    assert not any(found.mask[row : row + 2, col : col + 2].any() for row, col in specks)
    assert found.level == pytest.approx(0.8, abs=0.05)
    assert found.doubts == ()


def test_a_stroke_broken_by_a_faint_pen_is_joined():
    ink = _paper()
    seven = _seven(ink, 30, 40)
    ink[seven & (np.arange(SIDE)[:, None] > 60) & (np.arange(SIDE)[:, None] < 64)] -= 0.8
    found = strokes.find(ink, NOISE)
    assert found.mask[seven & (np.arange(SIDE)[:, None] > 70)].all()  # the part below the gap


def test_two_digits_of_similar_size_are_doubted():
    ink = _paper()
    first = _seven(ink, 10, 2)
    second = _seven(ink, 64, 84)
    found = strokes.find(ink, NOISE)
    assert found.mask[first].all() != found.mask[second].all()  # one of them, not both
    assert "2 blobs of ink of similar size: which is the digit is unclear" in found.doubts


def test_a_solid_blob_is_doubted():
    ink = _paper()
    ys, xs = np.indices(ink.shape)
    ink[(ys - 64) ** 2 + (xs - 64) ** 2 < 30**2] += 0.8
    found = strokes.find(ink, NOISE)
    assert "the ink is a solid blob, not strokes" in found.doubts


def test_faint_ink_is_doubted():
    ink = _paper() / 2
    seven = _seven(ink, 30, 40, level=0.07)  # above the threshold, not 8 sigmas of 0.012
    found = strokes.find(ink, 0.012)
    assert found.mask[seven].mean() > 0.9
    assert "the ink is faint against the noise" in found.doubts
    assert "the ink is faint against the noise" not in strokes.find(ink, 0.006).doubts


def test_much_shade_and_crowded_ink_are_doubted():
    ink = _paper()
    ink[5:120, 5:120] += 0.8
    found = strokes.find(ink, NOISE, shaded=0.3)
    assert "ink covers most of the image" in found.doubts
    assert "much of the image is in shadow or dark (the table?)" in found.doubts


def test_blank_paper_has_no_digit():
    assert strokes.find(_paper(), NOISE) is None


def test_shape_tells_strokes_from_a_disc():
    ys, xs = np.indices((64, 64))
    disc = (ys - 32) ** 2 + (xs - 32) ** 2 < 30**2
    thick, fill = strokes.shape(disc)
    assert thick == pytest.approx(1.0, abs=0.1) and fill == pytest.approx(np.pi / 4, abs=0.05)
    ring = disc & ((ys - 32) ** 2 + (xs - 32) ** 2 > 25**2)
    assert strokes.shape(ring)[0] < 0.3

import numpy as np

from tools.predict import shade

SIDE = 128
NOISE = 0.01


def _ink_map(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Paper with a little noise and a digit's stroke (an 8-pixel bar): the map and the stroke."""
    ink = np.random.default_rng(seed).normal(0, NOISE, (SIDE, SIDE))
    stroke = np.zeros((SIDE, SIDE), bool)
    stroke[30:100, 60:68] = True
    ink[stroke] += 0.8
    return ink, stroke


def test_a_shadow_running_off_the_image_is_taken_out_and_the_stroke_kept():
    ink, stroke = _ink_map()
    shadow = np.zeros((SIDE, SIDE), bool)
    shadow[:, :50] = True  # the left of the page, in shadow: wide, and off the image's edge
    ink[shadow] += 0.3
    unshaded, shaded = shade.unshaded(ink, NOISE)
    assert 0.3 < shaded < 0.5  # about the shadow's share, 50 of 128 columns
    assert np.abs(unshaded[:, 5:45]).max() < 0.1  # the shadow reads as paper now
    assert unshaded[stroke].min() > 0.5  # and the stroke as ink


def test_without_shade_the_ink_map_is_returned_as_it_is():
    ink, _ = _ink_map()
    unshaded, shaded = shade.unshaded(ink, NOISE)
    assert unshaded is ink and shaded == 0.0


def test_a_wide_object_inside_the_image_is_left_for_the_strokes_to_judge():
    ink, _ = _ink_map()
    ink[40:90, 20:50] += 0.5  # a stain, a fingertip: wide, but clear of every edge
    unshaded, shaded = shade.unshaded(ink, NOISE)
    assert shaded == 0.0 and unshaded is ink


def test_an_image_too_small_for_the_opening_is_left_alone():
    ink = np.ones((10, 10))
    assert shade.unshaded(ink, NOISE) == (ink, 0.0)

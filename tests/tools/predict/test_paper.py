import numpy as np
import pytest
from scipy import ndimage

from tools.predict import paper

SIDE = 256


def _stroke() -> np.ndarray:
    """A digit's worth of strokes: a 7-ish bar and diagonal, 10 pixels wide."""
    mask = np.zeros((SIDE, SIDE), bool)
    mask[60:70, 70:190] = True
    for row in range(70, 200):
        col = 190 - (row - 70) // 2
        mask[row, col - 10 : col] = True
    return mask


def _ramp(angle: float, low: float) -> np.ndarray:
    """Light falling off linearly across the page towards `angle`, from 1 to `low`."""
    ys, xs = np.mgrid[0:SIDE, 0:SIDE] / (SIDE - 1) - 0.5
    along = xs * np.cos(np.radians(angle)) + ys * np.sin(np.radians(angle))
    return 1 - (1 - low) * (along - along.min()) / (along.max() - along.min())


def _vignette() -> np.ndarray:
    """A lens's fall-off: bright in the middle, half as bright in the corners."""
    ys, xs = np.mgrid[0:SIDE, 0:SIDE] / (SIDE - 1) - 0.5
    return 1 - (xs**2 + ys**2)


def _shadow() -> np.ndarray:
    """A hand's hard-edged shadow over the lower left of the page, across the stroke."""
    ys, xs = np.mgrid[0:SIDE, 0:SIDE]
    return np.where(ys > 0.8 * xs + 110, 0.45, 1.0)


def _checked(light: np.ndarray, dark_ink: bool, noise: float = 3.0) -> paper.InkMap:
    """The ink map of the stroke written under `light`; checks the paper reads as paper and
    the stroke as ink wherever the light falls."""
    stroke = _stroke()
    rng = np.random.default_rng(0)
    if dark_ink:
        grey = 230 * light * np.where(stroke, 0.2, 1.0)
    else:  # chalk on a board: light added to dark paper
        grey = 50 * light + 170 * light * stroke
    found = paper.ink_map(np.clip(grey + rng.normal(0, noise, grey.shape), 0, 255))
    assert found.dark_ink is dark_ink
    paper_side = ~ndimage.binary_dilation(stroke, iterations=6)
    # the light is not read as ink: paper stays under the strokes' threshold (strokes.find)
    assert np.percentile(found.ink[paper_side], 99.9) < max(0.1, 4 * found.noise)
    core = ndimage.binary_erosion(stroke, iterations=3)
    assert np.percentile(found.ink[core], 5) > 0.3  # the stroke is, bright or dim
    return found


@pytest.mark.parametrize("angle", [0, 70, 135, 200, 290])
@pytest.mark.parametrize("dark_ink", [True, False])
def test_a_gradient_from_any_side_is_paper_and_the_stroke_ink(angle, dark_ink):
    found = _checked(_ramp(angle, 0.6), dark_ink)
    assert found.shaded == 0.0  # a gradient is light, not shade


@pytest.mark.parametrize("dark_ink", [True, False])
def test_a_lens_vignette_is_paper(dark_ink):
    _checked(_vignette(), dark_ink)


def test_a_hard_shadow_over_the_stroke_is_paper_and_counted_as_shade():
    found = _checked(_shadow(), dark_ink=True)
    assert found.shaded == pytest.approx((_shadow() < 1).mean(), abs=0.03)


def test_heavy_noise_is_paper_and_its_level_measured():
    found = _checked(_ramp(30, 0.6), dark_ink=True, noise=25.0)
    assert 0.005 < found.noise < 0.05  # after the smoothing


def test_a_clean_scan_has_no_noise_and_exact_ink():
    stroke = _stroke()
    found = paper.ink_map(np.where(stroke, 255.0, 0.0))  # MNIST's own: light ink on black
    assert found.dark_ink is False and found.noise == paper._NOISE_FLOOR
    assert found.ink[~ndimage.binary_dilation(stroke, iterations=6)].max() < 0.001
    assert found.ink[ndimage.binary_erosion(stroke, iterations=3)].min() > 0.95


def test_an_image_too_small_for_the_closing_has_flat_paper():
    grey = np.full((6, 9), 200.0)
    grey[2:4, 3:6] = 40.0
    found = paper.ink_map(grey)
    assert found.dark_ink and found.ink.max() > 0.5


def test_working_scale_brings_the_long_side_within_bounds():
    assert paper.working(np.zeros((28, 20))).shape == (56, 40)  # enlarged twice, no more
    assert paper.working(np.zeros((100, 50))).shape == (128, 64)
    assert paper.working(np.zeros((1000, 2000))).shape == (256, 512)
    assert paper.working(np.zeros((300, 200))).shape == (300, 200)


def test_a_large_photo_reads_as_the_same_photo_at_the_working_size():
    # A phone photo is shrunk to the working size: it must not be blurred more for that.
    def page(side: int) -> np.ndarray:
        grey = np.full((side, side), 200.0)
        width = side // 40  # a stroke a fortieth of the page wide, at any resolution
        grey[side // 4 : 3 * side // 4, side // 2 : side // 2 + width] = 60.0
        return grey

    at_work_size = paper.ink_map(page(512)).ink.max()
    for side in (1024, 2048):
        assert paper.ink_map(page(side)).ink.max() == pytest.approx(at_work_size, abs=0.05), side

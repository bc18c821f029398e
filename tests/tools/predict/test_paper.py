import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

from tools.predict import paper

SIDE = 128  # the working scale's smallest long side: `working` leaves such an image as it is


def _lighting(level: float, slope: float) -> np.ndarray:
    """A quadratic lighting gradient over the page: brighter top left, dimmer bottom right."""
    ys, xs = np.meshgrid(*(np.linspace(-1, 1, SIDE),) * 2, indexing="ij")
    return level + slope * (xs + 0.5 * ys) - 0.5 * slope * xs * xs + 0.3 * slope * xs * ys


def _stroke() -> np.ndarray:
    """A digit's worth of strokes: a 7-ish bar and diagonal, 6 pixels wide."""
    mask = np.zeros((SIDE, SIDE), bool)
    mask[30:36, 35:95] = True
    for row in range(36, 100):
        col = 95 - (row - 36) // 2
        mask[row, col - 6 : col] = True
    return mask


@pytest.mark.parametrize(("level", "ink", "dark"), [(200.0, -120.0, True), (60.0, 120.0, False)])
def test_background_recovers_the_lighting_under_a_stroke_either_polarity(level, ink, dark):
    lighting = _lighting(level, 25.0)
    grey = lighting + ink * _stroke()
    surface, dark_ink = paper.background(grey)
    assert dark_ink is dark
    assert surface.shape == grey.shape
    assert np.abs(surface - lighting).max() < 2.0  # grey levels, across a 50-level gradient


@pytest.mark.parametrize(("level", "ink"), [(200.0, -120.0), (60.0, 120.0)])
def test_ink_map_measures_the_stroke_and_not_the_gradient(level, ink):
    rng = np.random.default_rng(0)
    stroke = _stroke()
    grey = _lighting(level, 25.0) + ink * stroke + rng.normal(0, 2.0, (SIDE, SIDE))
    found = paper.ink_map(np.clip(grey, 0, 255))
    assert found.dark_ink is (ink < 0)
    assert found.shaded == 0.0
    paper_side = ~ndimage.binary_dilation(stroke, iterations=6)
    assert np.abs(found.ink[paper_side]).max() < 0.1  # the gradient is not read as ink
    assert np.median(found.ink[ndimage.binary_erosion(stroke, iterations=2)]) > 0.4
    assert 0.0 < found.noise < 0.05


def test_working_scale_brings_the_long_side_within_bounds():
    assert paper.working(np.zeros((28, 20))).shape == (56, 40)  # enlarged twice, no more
    assert paper.working(np.zeros((100, 50))).shape == (128, 64)
    assert paper.working(np.zeros((1000, 2000))).shape == (256, 512)
    assert paper.working(np.zeros((300, 200))).shape == (300, 200)


@given(hnp.arrays(np.float64, st.integers(1, 60), elements=st.floats(-1e6, 1e6)))
def test_median_is_numpys(values):
    assert paper._median(values.copy()) == np.median(values)


def test_median_of_values_holding_nan_is_nan():
    assert np.isnan(paper._median(np.array([1.0, np.nan, 3.0, 4.0])))


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

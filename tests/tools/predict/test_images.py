from io import BytesIO

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from pipeline.errors import PipelineError
from tests.support.fuzz import spoiled
from tools.predict import images as dg


def test_to_mnist_centres_ink_by_mass_in_a_20_pixel_box():
    canvas = np.zeros((200, 300))
    canvas[20:60, 250:270] = 255  # a bar far off-centre
    digit = dg.to_mnist(canvas)
    rows, _ = np.nonzero(digit > 0)
    assert rows.max() - rows.min() + 1 == 20  # the long side fills the box
    ys, xs = np.indices(digit.shape)
    centre = ((ys * digit).sum() / digit.sum(), (xs * digit).sum() / digit.sum())
    assert centre == pytest.approx((14, 14), abs=1)


@pytest.mark.parametrize(
    ("size", "ink"),
    [((1, 5000), (0, 2500)), ((5000, 1), (2500, 0)), ((2, 2), (0, 0)), ((3000, 40), (10, 20))],
)
def test_extreme_shapes_make_a_digit_or_say_why_not(tmp_path, size, ink):
    canvas = np.zeros(size, np.uint8)
    canvas[ink] = 255
    Image.fromarray(canvas).save(tmp_path / "x.png")
    grey = dg.load_image(tmp_path / "x.png")
    if size == (3000, 40):
        # One pixel, averaged with its neighbours as the image is shrunk to 1024 pixels a
        # side: too faint to tell from the paper.
        with pytest.raises(PipelineError, match="blank"):
            dg.to_mnist(grey)
        return
    digit = dg.to_mnist(grey)
    assert digit.shape == (28, 28) and digit.max() > 0


# ---- fuzzing the image reader: every format it opens, hostile bytes in each ----

_MODES = {
    "PNG": ["L", "RGBA", "P", "1", "I;16", "LA"],
    "JPEG": ["L", "RGB", "CMYK"],
    "BMP": ["L", "RGB", "P", "1"],
    "GIF": ["L", "P"],
    "TIFF": ["L", "RGB", "I;16", "F", "CMYK", "RGBA"],
    "WEBP": ["RGB", "RGBA"],
    "PPM": ["L", "RGB"],
    "TGA": ["L", "RGB", "RGBA"],
    "ICO": ["RGBA"],
}


def _image_file(kind: str, mode_index: int, width: int, height: int, seed: int) -> bytes:
    mode = _MODES[kind][mode_index % len(_MODES[kind])]
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGBA")
    image = image.convert(mode) if mode not in ("I;16", "F") else image.convert("L").convert(mode)
    buffer = BytesIO()
    image.save(buffer, format=kind)
    return buffer.getvalue()


image_files = st.one_of(
    st.binary(max_size=200),
    spoiled(
        st.builds(
            _image_file,
            st.sampled_from(sorted(_MODES)),
            st.integers(0, 5),
            st.integers(1, 40),
            st.integers(1, 40),
            st.integers(0, 2**16),
        ),
        reach=3000,
    ),
)


@given(image_files)
def test_any_file_makes_a_digit_or_one_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "image"
    path.write_bytes(data)
    try:
        digit = dg.to_mnist(dg.load_image(path))
    except PipelineError as error:
        assert str(error)
    else:
        assert digit.shape == (28, 28) and digit.dtype == np.uint8


@given(st.sampled_from(sorted(_MODES)), st.integers(0, 5), st.integers(0, 2**16))
def test_every_format_and_mode_reads_unspoiled(tmp_path_factory, kind, mode, seed):
    path = tmp_path_factory.mktemp("fuzz") / f"image.{kind.lower()}"
    path.write_bytes(_image_file(kind, mode, 30, 20, seed))
    grey = dg.load_image(path)
    assert grey.shape == (20, 30) or kind == "ICO"  # icons are saved square
    assert grey.ndim == 2 and grey.min() >= 0 and grey.max() <= 255

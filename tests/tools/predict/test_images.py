from io import BytesIO

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from pipeline.errors import PipelineError
from tests.support.fuzz import spoiled
from tools.predict import images as dg

# MNIST's centring is a whole-pixel shift that brings the centre of mass nearest (14, 14), so
# it ends within half a pixel of it on each axis, as on MNIST's own digits (see test below).
MNIST_CENTRING = 0.5 + 1e-9


def test_to_mnist_centres_ink_by_mass_in_a_20_pixel_box():
    canvas = np.zeros((200, 300))
    canvas[20:60, 250:270] = 255  # a bar far off-centre
    digit = dg.to_mnist(canvas)
    rows, _ = np.nonzero(digit > 0)
    assert rows.max() - rows.min() + 1 == 20  # the long side fills the box
    ys, xs = np.indices(digit.shape)
    centre = ((ys * digit).sum() / digit.sum(), (xs * digit).sum() / digit.sum())
    assert centre == pytest.approx((14, 14), abs=MNIST_CENTRING)


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


# ---- real MNIST test digits as photos the clean-up was not shaped around ----

N = 100  # test digits per kind of photo
CANVAS = 240  # a photo's side: the digit written 6 times MNIST's size in its middle


def _ink(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit as ink in [0, 1] written large in the middle of a photo."""
    big = Image.fromarray(digit).resize((168, 168), Image.Resampling.BICUBIC)
    ink = np.zeros((CANVAS, CANVAS))
    ink[36:204, 36:204] = np.asarray(big) / 255
    return ink


def _coordinates() -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:CANVAS, 0:CANVAS] / (CANVAS - 1) - 0.5


def _vignetted(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    ys, xs = _coordinates()
    light = (1 - 1.1 * ((xs - 0.2) ** 2 + (ys + 0.1) ** 2)) * (0.8 + 0.3 * ys)  # off-centre lamp
    return _grey(235 * light * (1 - 0.85 * ink), rng, 4.0)


def _shadowed(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    ys, xs = _coordinates()
    hand = np.where(ys + 0.5 * xs > 0.25, 0.5, 1.0)  # a hard shadow over the lower right
    blob = 1 - 0.35 * np.exp(-((xs + 0.35) ** 2 + (ys + 0.3) ** 2) / 0.02)  # and a soft one
    return _grey(230 * hand * blob * (1 - 0.8 * ink), rng, 3.0)


def _blue_on_cream(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    cream, blue = np.array([245.0, 232.0, 195.0]), np.array([25.0, 55.0, 165.0])
    rgb = cream * (1 - ink[..., None]) + blue * ink[..., None]
    rgb += rng.normal(0, 3.0, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).round().astype(np.uint8), "RGB")


def _speckled(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    grey = 220 * (1 - 0.8 * ink) + rng.normal(0, 15.0, ink.shape)
    specks = rng.random(ink.shape)
    grey[specks < 0.004] = 20  # dust and pepper, single pixels
    grey[specks > 0.996] = 255
    return _grey(grey, rng, 0.0)


def _crooked_sheet(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """The sheet turned 25 degrees on a dark table, the digit written upright on it."""
    sheet = np.zeros((CANVAS, CANVAS))
    sheet[20:-20, 20:-20] = 1.0
    sheet = ndimage.rotate(sheet, 25, reshape=False, order=1)
    table = 70 + 15 * np.sin(np.arange(CANVAS) / 3)[None, :]  # wood grain
    return _grey(table * (1 - sheet) + 225 * sheet * (1 - 0.8 * ink), rng, 4.0)


def _grey(values: np.ndarray, rng: np.random.Generator, noise: float) -> Image.Image:
    noisy = values + rng.normal(0, noise, values.shape) if noise else values
    return Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8))


PHOTOS = {
    "vignetted": _vignetted,
    "shadowed": _shadowed,
    "blue ink on cream": _blue_on_cream,
    "speckled": _speckled,
    "crooked sheet": _crooked_sheet,
}


@pytest.fixture(scope="module")
def reader(mnist):
    """A plain nearest-neighbour reader of MNIST digits (no TensorFlow, no served model),
    and the first N test digits and labels."""
    from sklearn.neighbors import KNeighborsClassifier

    train = mnist["train_images"][:5000].reshape(5000, -1) / 255
    knn = KNeighborsClassifier(n_neighbors=3).fit(train, mnist["train_labels"][:5000])
    return knn, mnist["test_images"][:N], mnist["test_labels"][:N]


def _read(tmp_path, images) -> np.ndarray:
    """Each image saved as a file and normalised from it, as mnist-predict does."""
    digits = []
    for n, image in enumerate(images):
        image.save(tmp_path / f"{n}.png")
        digits.append(dg.to_mnist(dg.load_image(tmp_path / f"{n}.png")))
    return np.stack(digits)


def test_mnist_own_digits_are_centred_by_a_whole_pixel_shift(mnist):
    # What MNIST_CENTRING holds the tool to: every test digit's centre of mass lies within
    # half a pixel of (14, 14), the mark of a shift rounded to the nearest whole pixel (a
    # sub-pixel shift would put every centre on it; one rounded down, a pixel off it).
    digits = mnist["test_images"].astype(np.float64)
    mass = digits.sum(axis=(1, 2))
    ys, xs = np.indices((28, 28))
    centres = np.stack([(digits * ys).sum(axis=(1, 2)), (digits * xs).sum(axis=(1, 2))]) / mass
    assert np.abs(centres - 14).max() <= MNIST_CENTRING
    assert np.abs(centres - 14).max() > 0.45  # whole pixels: the centres spread to the bound


def _framed_like_mnist(digits: np.ndarray) -> None:
    """MNIST's framing: the ink's long side fits 20 pixels, its centre of mass the middle."""
    ys, xs = np.indices((28, 28))
    for digit in digits:
        rows, cols = np.nonzero(digit > 0)
        assert 19 <= max(np.ptp(rows), np.ptp(cols)) + 1 <= 21
        mass = digit.sum()
        centre = ((ys * digit).sum() / mass, (xs * digit).sum() / mass)
        assert centre == pytest.approx((14, 14), abs=MNIST_CENTRING)


# A known gap of the clean-up, measured: a reader that gets 96 of these 100 clean scans right
# gets 90-91 of them right under a hard shadow across a corner of the page plus a soft one
# (a few digits merge with the shadow's edge).
_SHORT = pytest.mark.xfail(strict=True, reason="the clean-up falls short here (see above)")


@pytest.mark.parametrize(
    "kind",
    [pytest.param(kind, marks=_SHORT) if kind == "shadowed" else kind for kind in PHOTOS],
)
def test_real_digits_photographed_read_as_their_clean_scans(tmp_path, reader, kind):
    knn, digits, labels = reader
    rng = np.random.default_rng(list(PHOTOS).index(kind))
    photos = _read(tmp_path, [PHOTOS[kind](_ink(digit), rng) for digit in digits])
    scans = _read(tmp_path, [Image.fromarray(digit) for digit in digits])
    _framed_like_mnist(photos)
    right = knn.predict(photos.reshape(N, -1) / 255) == labels
    on_scans = knn.predict(scans.reshape(N, -1) / 255) == labels
    assert right.mean() >= on_scans.mean() - 0.04, (kind, right.mean(), on_scans.mean())


def test_a_clean_scan_either_way_round_is_the_same_digit(tmp_path, reader):
    _, digits, _ = reader
    scans = _read(tmp_path, [Image.fromarray(digit) for digit in digits])
    printed = _read(tmp_path, [Image.fromarray(255 - digit) for digit in digits])
    _framed_like_mnist(scans)
    assert np.abs(scans.astype(int) - printed).max() <= 1


# ---- hostile inputs: the reader's bounds ----


def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(tmp_path):
    Image.new("L", (8000, 8000), 255).save(tmp_path / "huge.png")  # 64 Mpx, a tiny file
    with pytest.raises(
        PipelineError, match=r"^the image is 8000x8000; the limit is 50,000,000 pixels$"
    ):
        dg.load_image(tmp_path / "huge.png")


def test_a_large_image_is_read_at_most_max_side_a_side(tmp_path):
    Image.new("L", (4000, 1500), 255).save(tmp_path / "wide.png")
    assert max(dg.load_image(tmp_path / "wide.png").shape) <= dg.MAX_SIDE


def test_ink_too_sparse_to_scale_is_one_clear_error():
    sparse = np.zeros((1024, 1024))
    sparse[0, 0] = sparse[-1, -1] = 255  # two pixels in far corners
    with pytest.raises(PipelineError, match="ink"):
        dg.to_mnist(sparse)


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

import json
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from components import digits as dg
from components import predict as pr
from pipeline.errors import PipelineError
from tests.support import ROOT
from tests.support.fuzz import spoiled

N = 300  # real test digits per variant


def _plain(img):
    return Image.fromarray(img)  # MNIST as it is: light ink on black


def _paper(img):
    return Image.fromarray(255 - img)  # dark ink on white paper


def _rgb(img):
    return Image.fromarray(np.stack([255 - img, 255 - img // 2, 255 - img], axis=-1))


def _upscaled(img):
    return _paper(img).resize((84, 84), Image.BICUBIC)


def _off_centre(img):
    canvas = np.full((60, 80), 255, np.uint8)
    canvas[5:33, 40:68] = 255 - img
    return Image.fromarray(canvas)


VARIANTS = {
    "plain": _plain,
    "paper": _paper,
    "rgb": _rgb,
    "upscaled_3x": _upscaled,
    "off_centre": _off_centre,
    "jpeg": _upscaled,
}


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist["test_images"][:N], mnist["test_labels"][:N]


@pytest.mark.parametrize("variant", VARIANTS)
def test_real_digits_as_image_files_classify_like_the_model(tmp_path, serving_dir, digits, variant):
    images, labels = digits
    suffix = ".jpg" if variant == "jpeg" else ".png"
    files = []
    for n, image in enumerate(images):
        files.append(tmp_path / f"{n:03d}{suffix}")
        VARIANTS[variant](image).save(files[-1])
    results = pr.predict(files, serving_dir)
    accuracy = np.mean([r["digit"] == label for r, label in zip(results, labels, strict=True)])
    serve = tf.saved_model.load(str(serving_dir)).signatures["serving_default"]
    direct = np.mean(serve(images=tf.constant(images))["classes"].numpy() == labels)
    # Normalising a file must cost at most 2 points of the model's own accuracy.
    assert accuracy >= direct - 0.02, (variant, accuracy, direct)


def test_to_mnist_centres_ink_by_mass_in_a_20_pixel_box():
    canvas = np.zeros((200, 300))
    canvas[20:60, 250:270] = 255  # a bar far off-centre
    digit = dg.to_mnist(canvas)
    rows, _ = np.nonzero(digit > 0)
    assert rows.max() - rows.min() + 1 == 20  # the long side fills the box
    ys, xs = np.indices(digit.shape)
    centre = ((ys * digit).sum() / digit.sum(), (xs * digit).sum() / digit.sum())
    assert centre == pytest.approx((14, 14), abs=1)


def test_cli_classifies_good_files_and_names_each_bad_one(tmp_path, serving_dir, digits):
    _paper(digits[0][0]).save(tmp_path / "good.png")
    (tmp_path / "notes.png").write_text("not an image at all")
    (tmp_path / "empty.bmp").write_bytes(b"")
    Image.new("L", (8000, 8000), 255).save(tmp_path / "huge.png")  # 64 Mpx, a tiny file
    # The reproducer of a crash: two white pixels in far corners of a large black image
    # vanished in the scaling to 20x20, centring divided by zero, and the traceback lost
    # every other file's result.
    sparse = np.zeros((2000, 2000), np.uint8)
    sparse[0, 0] = sparse[-1, -1] = 255
    Image.fromarray(sparse).save(tmp_path / "sparse.png")
    names = ("good.png", "notes.png", "empty.bmp", "huge.png", "sparse.png")
    files = [str(tmp_path / n) for n in names]
    result = subprocess.run(
        [sys.executable, "-m", "components.predict", *files, "--json", "--model", str(serving_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    rows = {Path(r["file"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["good.png"]["digit"] == digits[1][0]
    assert "not a readable PNG, JPEG, BMP" in rows["notes.png"]["error"]
    assert rows["empty.bmp"]["error"] == "the file is empty"
    assert "too large" in rows["huge.png"]["error"]
    assert "the ink is too small or sparse" in rows["sparse.png"]["error"]


def test_cli_without_a_model_says_how_to_get_one(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "components.predict", "x.png", "--model", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "no SavedModel in" in result.stderr and "dvc repro" in result.stderr


def test_model_folder_is_a_saved_model_or_the_latest_of_its_versions(tmp_path, serving_dir):
    assert pr.saved_model_dir(serving_dir) == serving_dir
    base = tmp_path / "serving"
    base.mkdir()
    assert pr.saved_model_dir(base) is None
    for version in ("2", "10"):
        (base / version).symlink_to(serving_dir)
    (base / ".11.tmp-123").mkdir()  # a push in progress is not a version
    assert pr.saved_model_dir(base) == base / "10"
    assert pr.saved_model_dir(tmp_path / "missing") is None


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "components.predict", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_classifying_nothing_says_so(tmp_path, serving_dir):
    (tmp_path / "empty").mkdir()
    nothing = _run(str(tmp_path / "empty"), "--model", str(serving_dir))
    assert nothing.returncode == 1 and "no image files in" in nothing.stderr
    (tmp_path / "blank.png").write_bytes(b"")
    failed = _run(str(tmp_path / "blank.png"), "--model", str(serving_dir))
    assert failed.returncode == 1 and "no file could be classified (1 failed)" in failed.stderr


@pytest.mark.parametrize(
    ("size", "ink"),
    [((1, 5000), (0, 2500)), ((5000, 1), (2500, 0)), ((2, 2), (0, 0)), ((3000, 40), (10, 20))],
)
def test_extreme_shapes_make_a_digit(tmp_path, size, ink):
    canvas = np.zeros(size, np.uint8)
    canvas[ink] = 255
    Image.fromarray(canvas).save(tmp_path / "x.png")
    digit = dg.to_mnist(dg.load_image(tmp_path / "x.png"))
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

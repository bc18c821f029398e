import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.support import ROOT
from tools.predict import cli as pr

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
        [sys.executable, "-m", "tools.predict.cli", *files, "--json", "--model", str(serving_dir)],
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
        [sys.executable, "-m", "tools.predict.cli", "x.png", "--model", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "no SavedModel in" in result.stderr and "dvc repro" in result.stderr


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.predict.cli", *args],
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

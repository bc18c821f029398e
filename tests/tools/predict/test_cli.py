import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pipeline import schema
from tests.support import ROOT
from tests.support.evidence import assert_story_in_named_log, fail_with_evidence
from tests.support.records import MNIST, PETS, schema_file
from tools.predict import cli as pr
from tools.predict import model

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
    answers = list(pr.predict(files, model.load(serving_dir), pr.MIN_CONFIDENCE))
    assert [Path(answer.file).name for answer in answers] == [f.name for f in files]  # in order
    accuracy = np.mean([a.label_id == label for a, label in zip(answers, labels, strict=True)])
    serve = tf.saved_model.load(str(serving_dir)).signatures["serving_default"]
    direct = np.mean(serve(images=tf.constant(images))["classes"].numpy() == labels)
    # Normalising a file must cost at most 2 points of the model's own accuracy.
    assert accuracy >= direct - 0.02, (variant, accuracy, direct)


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.predict.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


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
    result = _run(*(str(tmp_path / n) for n in names), "--json", "--model", str(serving_dir))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    rows = {Path(r["file"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["good.png"]["label"] == str(digits[1][0])
    assert "not an image: its bytes are none of PNG, JPEG, BMP" in rows["notes.png"]["error"]
    assert rows["empty.bmp"]["error"] == "the file is empty"
    assert rows["huge.png"]["error"] == "the image is 8000x8000; the limit is 50,000,000 pixels"
    assert "ink" in rows["sparse.png"]["error"]


def test_tensorflow_is_never_imported(tmp_path, serving_dir, digits):
    _paper(digits[0][0]).save(tmp_path / "good.png")
    script = (
        "import sys\nfrom tools.predict import cli\n"
        f"status = cli.main([{str(tmp_path / 'good.png')!r}, '--model', {str(serving_dir)!r}])\n"
        "print(status, sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr


def test_an_unsure_answer_is_flagged_and_the_exit_status_says_so(tmp_path, serving_dir, digits):
    _paper(digits[0][0]).save(tmp_path / "good.png")
    sure = _run(str(tmp_path / "good.png"), "--model", str(serving_dir))
    assert sure.returncode == 0 and " unsure: " not in sure.stdout
    demanding = _run(
        str(tmp_path / "good.png"), "--model", str(serving_dir), "--min-confidence", "1"
    )
    assert demanding.returncode == pr.UNSURE
    assert "unsure: probability below --min-confidence 1" in demanding.stdout


def test_names_are_shown_unambiguously(tmp_path, serving_dir, digits):
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in (b"two\nlines.png", b"not-utf8-\xff.png"):
        _paper(digits[0][0]).save(
            os.path.join(os.fsencode(folder), name).decode("utf-8", "surrogateescape")
        )
    result = _run(str(folder), "--model", str(serving_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2  # one line each, whatever the name holds
    assert any(
        line.endswith(f"not-utf8-\\xff.png: {digits[1][0]} ({line.rsplit('(', 1)[1]}")
        for line in lines
    )
    assert any("two\\nlines.png" in line for line in lines)
    # In JSON, the path itself, which JSON escapes: os.fsencode gives back its bytes.
    said = _run(str(folder), "--model", str(serving_dir), "--json").stdout.splitlines()
    names = {os.fsencode(json.loads(line)["file"]).rsplit(b"/", 1)[1] for line in said}
    assert names == {b"two\nlines.png", b"not-utf8-\xff.png"}


def test_a_folder_of_any_depth_is_walked(tmp_path, serving_dir, digits):
    deep = tmp_path / "deep"
    folder = deep
    deep.mkdir()
    for _ in range(1100):  # deeper than Python's recursion limit (os.makedirs recurses too)
        folder = folder / "d"
        folder.mkdir()
    _paper(digits[0][0]).save(folder / "digit.png")
    try:
        result = _run(str(deep), "--json", "--model", str(serving_dir))
    finally:  # bottom up: shutil.rmtree, and so pytest's clean-up, recurses too
        (folder / "digit.png").unlink()
        while folder != tmp_path:
            folder.rmdir()
            folder = folder.parent
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["label"] == str(digits[1][0])


def test_without_a_model_it_says_which_command_puts_one_there(tmp_path):
    served = _run("x.png", cwd=tmp_path)
    assert served.returncode == 1
    assert "no model is served from models/serving yet: `dvc repro` trains" in served.stderr
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.keras").write_bytes(b"pulled")  # as after `dvc pull`
    pulled = _run("x.png", cwd=tmp_path)
    assert "yet: `mnist-push` serves models/model.keras" in pulled.stderr
    given = _run("x.png", "--model", str(tmp_path / "nope"))
    assert (
        given.returncode == 1
        and f"--model {tmp_path / 'nope'}: no such file or folder" in given.stderr
    )


def test_classifying_nothing_says_so(tmp_path, serving_dir):
    (tmp_path / "empty").mkdir()
    nothing = _run(str(tmp_path / "empty"), "--model", str(serving_dir))
    assert nothing.returncode == 1 and "no image files in" in nothing.stderr
    (tmp_path / "blank.png").write_bytes(b"")
    failed = _run(str(tmp_path / "blank.png"), "--model", str(serving_dir))
    assert failed.returncode == 1 and "no file could be classified (1 failed)" in failed.stderr


def test_answers_stream_in_chunks_with_memory_flat_in_the_count(monkeypatch, tmp_path):
    # A stand-in model and decoder: what is measured is how the files flow, not the digits.
    seen = []
    monkeypatch.setattr(pr.images, "load_image", lambda path: np.zeros((28, 28)))
    monkeypatch.setattr(
        pr.images, "normalise", lambda grey: pr.images.Digit(np.zeros((28, 28), np.uint8))
    )

    def classify(batch):
        seen.append(len(batch))
        return np.full((len(batch), 10), 0.1)

    paths = (tmp_path / f"{n}.png" for n in range(1000))
    digits = schema.Schema(28, 28, 1, "uint8", tuple("0123456789"), schema.DIGIT)
    answers = pr.predict(paths, model.Served(classify, digits), 0.0)
    first = next(answers)  # before the rest of the files are even named
    assert first.file.endswith("0.png") and seen == [pr.CHUNK]
    assert sum(1 for _ in answers) == 999 and max(seen) == pr.CHUNK


def test_no_clear_digit_is_said_in_text_and_json_with_the_unsure_status(
    tmp_path, serving_dir, digits, capsys
):
    # Two digits side by side: the normalisation cannot tell which one is meant.
    canvas = np.full((40, 100), 255, np.uint8)
    canvas[6:34, 4:32] = 255 - digits[0][0]
    canvas[6:34, 68:96] = 255 - digits[0][1]
    Image.fromarray(canvas).save(tmp_path / "two.png")
    doubt = "2 blobs of ink of similar size: which is the digit is unclear"
    args = [str(tmp_path / "two.png"), "--model", str(serving_dir), "--min-confidence", "0"]
    assert pr.main(args) == pr.UNSURE
    assert f" unsure: {doubt}" in capsys.readouterr().out
    assert pr.main([*args, "--json"]) == pr.UNSURE
    assert json.loads(capsys.readouterr().out)["unsure"] == doubt


def test_help_names_the_exit_statuses(capsys):
    with pytest.raises(SystemExit) as done:
        pr.main(["--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "0 when every file got a sure answer" in shown
    assert "1 on an error" in shown
    assert "3 when every file was classified but some answers are unsure" in shown
    assert "4 when the served model is another dataset's (--model to use it)" in shown


def _workspace(root: Path, serving_dir: Path, *names: str) -> Path:
    """A project that serves `serving_dir`'s model as each of `names` in models/serving."""
    base = root / "models" / "serving"
    base.mkdir(parents=True)
    for name in names:
        (base / name).symlink_to(serving_dir)
    return root


def test_another_datasets_model_answers_only_when_named(tmp_path, serving_dir, digits):
    ws = _workspace(tmp_path / "ws", serving_dir, "3")
    _paper(digits[0][0]).save(ws / "shape.png")
    schema_file(ws / "data", PETS)  # this project's data: four kinds of 12x10 RGB image
    refused = _run("shape.png", cwd=ws)
    assert refused.returncode == pr.OTHER_DATA and refused.stdout == ""
    assert "Traceback" not in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert refused.stderr.rstrip().endswith(
        "version 3 serves 0..9 (28x28x1); this project: cat..newt (12x10x3); --model to use it"
    )
    named = _run("shape.png", "--model", "models/serving", cwd=ws)
    assert named.returncode == 0 and named.stdout.startswith(f"shape.png: {digits[1][0]} (")
    assert "--model models/serving serves 0..9 (28x28x1); this project:" in named.stderr
    schema_file(ws / "data", MNIST)  # the same data: no word
    same = _run("shape.png", cwd=ws)
    assert same.returncode == 0 and same.stderr == ""
    # No data/schema.json (a clone before `dvc pull`): nothing to hold the model to.
    (ws / "data" / "schema.json").unlink()
    assert _run("shape.png", cwd=ws).returncode == 0
    (ws / "data" / "schema.json").write_text("{")
    damaged = _run("shape.png", cwd=ws)
    assert (
        damaged.returncode == 1 and "data/schema.json is not a dataset's schema" in damaged.stderr
    )
    assert _run("shape.png", "--model", "models/serving/3", cwd=ws).returncode == 0


def test_only_names_tf_serving_loads_are_versions(tmp_path, serving_dir, digits):
    # int() failed on '²' (a traceback) and read '٣' as version 3.
    ws = _workspace(tmp_path / "ws", serving_dir, "1", "²", "٣")
    _paper(digits[0][0]).save(ws / "digit.png")
    result = _run("digit.png", cwd=ws)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"digit.png: {digits[1][0]} (")
    assert result.stderr.rstrip().endswith(
        "models/serving: ignoring '²', '٣': not version numbers TF Serving loads"
    )


@pytest.mark.parametrize(
    "environment",
    [
        {"PYTHONIOENCODING": "ascii"},
        {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
    ],
    ids=["PYTHONIOENCODING=ascii", "LC_ALL=C"],
)
def test_a_name_the_output_cannot_encode_is_escaped(tmp_path, serving_dir, digits, environment):
    name = "café-٣.png"
    _paper(digits[0][0]).save(tmp_path / name)
    result = subprocess.run(
        [sys.executable, "-m", "tools.predict.cli", name, "--model", str(serving_dir)],
        cwd=tmp_path,
        capture_output=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), **environment},
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    (line,) = result.stdout.decode("ascii").splitlines()  # ASCII: escaped, not left out
    assert line.startswith(("caf\\xe9-\\u0663.png: ", "caf\\xc3\\xa9-\\xd9\\xa3.png: "))


def test_probabilities_that_are_not_numbers_are_an_error_in_valid_json(
    monkeypatch, tmp_path, capsys
):
    # A damaged model: NaN for the second image. argmax took NaN as the answer, "sure", and
    # --json printed a bare NaN, which is not JSON.
    monkeypatch.setattr(pr.images, "load_image", lambda path: np.zeros((28, 28)))
    monkeypatch.setattr(
        pr.images, "normalise", lambda grey: pr.images.Digit(np.zeros((28, 28), np.uint8))
    )
    rows = np.full((3, 10), 0.01)
    rows[:, 7] = 0.91
    rows[1, 2] = np.nan

    def classify(batch):
        return rows[: len(batch)]

    monkeypatch.setattr(pr.model, "load", lambda path: model.Served(classify, MNIST))
    (tmp_path / "m.tflite").write_bytes(b"")
    files = [str(tmp_path / f"{n}.png") for n in range(3)]
    assert pr.main([*files, "--json", "--model", str(tmp_path / "m.tflite")]) == 1

    def no_constants(word):
        raise ValueError(f"{word} is not JSON")

    said = [
        json.loads(line, parse_constant=no_constants)
        for line in capsys.readouterr().out.splitlines()
    ]
    assert [answer["label"] for answer in said] == ["7", None, "7"]
    assert said[1]["error"] == pr.NOT_FINITE and said[1]["probabilities"] is None


def test_a_failure_keeps_its_whole_story_in_mnist_predicts_log(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.setattr(pr.model, "resolve", fail_with_evidence)
    assert pr.main(["x.png"]) == 1
    [record] = caplog.records
    assert_story_in_named_log(record.getMessage(), tmp_path, "mnist-predict")

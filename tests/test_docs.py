"""The README and docs/ stay true: their bench tables are what the bench results say, their
links lead somewhere, and the lines troubleshooting.md quotes are the ones the code writes."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import report
from tests.support import ROOT

PAGES = report.pages()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_bench_sections_are_made_from_the_results_files(page):
    text = page.read_text()
    assert report.render(text) == text, (
        f"{page.name}: run `python -c 'from bench import report; report.update_docs()'`"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_lead_to_files(page):
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
        assert (page.parent / target).exists(), f"{page.name} links to {target}"


def test_every_docs_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in readme, page.name


def test_the_parameters_page_lists_every_key_with_the_default_params_yaml_holds():
    import dataclasses

    import yaml

    from pipeline import params

    rows = re.findall(
        r"^\| `([a-z_]+\.[a-z_]+)` \| `([^`]*)` \|", (ROOT / "docs/parameters.md").read_text(), re.M
    )
    documented = {key: yaml.safe_load(default) for key, default in rows}
    pinned = yaml.safe_load((ROOT / "params.yaml").read_text())
    keys = [
        f"{section}.{field.name}"
        for section, kind in params._SECTIONS.items()
        for field in dataclasses.fields(kind)
    ]
    assert list(documented) == keys  # every key, in params.yaml's order
    for key, default in documented.items():
        section, name = key.split(".")
        assert default == pinned[section][name], key


def test_the_small_folder_recipe_is_one_dvc_exp_run_of_settings_the_stages_take(tmp_path):
    import shutil

    from dvc.utils.hydra import apply_overrides

    from bench.small_folder import recipe_settings
    from pipeline.params import load_params

    settings = recipe_settings()  # refuses another command, or a data.* setting
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    apply_overrides(tmp_path / "params.yaml", settings)  # what `dvc exp run -S` writes
    train = load_params(tmp_path / "params.yaml").train
    assert (train.model, train.min_steps > 0) == ("cnn", True), train


# docs/troubleshooting.md: every line it quotes is the code's own. Each is made here by the
# code (a refusal run in-process, compared), or, where only a stage's or a tool's run makes
# it, found in the message source of the module that writes it; DVC's own lines and the
# commands named beside them are listed as not the project's.

TROUBLESHOOTING = ROOT / "docs" / "troubleshooting.md"


def _quoted() -> list[str]:
    """What troubleshooting.md's tables say a user sees: the code spans of their first
    column, in the page's order."""
    spans = []
    for line in TROUBLESHOOTING.read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| you see"):
            first = line[2:].split(" | ")[0]
            spans += [a or b for a, b in re.findall(r"``(.+?)``|`([^`]+)`", first)]
    return spans


def _says(quoted: str, line: str) -> bool:
    """Whether `line` holds the quoted words, where the page's `...` stands for any text
    and a lone N, M or L for a number."""
    parts = [re.escape(part) for part in quoted.split("...")]
    return re.search(".*?".join(re.sub(r"\b[NML]\b", r"\\d+", p) for p in parts), line) is not None


def _refused(call: Callable[[], object], folder: Path | None = None) -> str:
    """The one line of the PipelineError `call` raises, run in `folder` (the project's, as
    the stages and tools run) if given."""
    from pipeline.errors import PipelineError

    cwd = Path.cwd()
    try:
        os.chdir(folder or cwd)
        with pytest.raises(PipelineError) as refusal:
            call()
    finally:
        os.chdir(cwd)
    return str(refusal.value)


def _params(make: Callable[[Path], object]) -> Callable[[Path], str]:
    """The refusal of the params.yaml `make` writes, read as the stages read it."""

    def refusal(folder: Path) -> str:
        from pipeline.params import load_params

        make(folder / "params.yaml")
        return _refused(lambda: load_params("params.yaml"), folder)

    return refusal


def _edited(old: str, new: str, file: str = "params.yaml") -> Callable[[Path], None]:
    """Writes the project's `file` with one edit, as a user might make it."""

    def make(path: Path) -> None:
        text = (ROOT / file).read_text()
        assert old in text, f"{file} no longer holds {old!r}"
        path.write_text(text.replace(old, new, 1))

    return make


def _alias_bomb(path: Path) -> None:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 6)]
    path.write_text("\n".join(lines) + "\n")


def _space(folder: Path) -> str:
    from tools.tune.space import load_space

    edit = _edited(
        "train.epochs: {low: 8, high: 16}", "train.epochs: {low: 5, high: 5}", "tune.yaml"
    )
    edit(folder / "tune.yaml")
    return _refused(lambda: load_space("tune.yaml"), folder)


def _beam(runner_name: str, *flags: str) -> Callable[[Path], str]:
    def refusal(folder: Path) -> str:
        from components.preprocess import runner

        return _refused(lambda: runner.options(runner_name, list(flags)))

    return refusal


def _nothing_at() -> str:
    from bench.cluster import HOST, free_port

    return f"{HOST}:{free_port()}"


_MIRROR = "DATA_MIRROR"


def _mirror(damage: Callable[[Path], object]) -> Callable[[Path], str]:
    """The refusal of the real mirror (DATA_MIRROR) with one file damaged."""

    def refusal(folder: Path) -> str:
        from components.ingest.mirror import FILES, read_mirror

        real = Path(os.environ[_MIRROR])
        copy = folder / "mirror"
        copy.mkdir()
        for name in FILES.values():
            (copy / name).symlink_to(real / name)
        damage(copy)
        return _refused(lambda: read_mirror(copy))

    refusal.needs_mirror = True
    return refusal


def _replace(name: str, data: bytes) -> Callable[[Path], None]:
    def damage(mirror: Path) -> None:
        (mirror / name).unlink()
        (mirror / name).write_bytes(data)

    return damage


_LABELS = "t10k-labels-idx1-ubyte.gz"


def _labels(count: int) -> bytes:
    """A gzipped IDX label file of MNIST's test header and `count` label bytes."""
    import gzip
    import struct

    return gzip.compress(struct.pack(">II", 2049, 10_000) + bytes(count))


def _cut_short(mirror: Path) -> None:
    data = (mirror / _LABELS).read_bytes()
    _replace(_LABELS, data[: len(data) // 2])(mirror)


def _test_images_as_train_images(mirror: Path) -> None:
    (mirror / "train-images-idx3-ubyte.gz").unlink()
    (mirror / "train-images-idx3-ubyte.gz").symlink_to(mirror / "t10k-images-idx3-ubyte.gz")


def _sparse_file(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with open(path, "wb") as file:
            file.truncate(size)

    return make


def _image_file(make: Callable[[Path], object]) -> Callable[[Path], str]:
    """mnist-predict's line for the file `make` writes as x.png."""

    def line(folder: Path) -> str:
        from tools.predict import cli, images

        path = folder / "x.png"
        make(path)
        said = _refused(lambda: images.to_mnist(images.load_image(path)))
        return cli.Answer(file="x.png", error=said).text()

    return line


def _image(pixels: object, mode: str = "L") -> Callable[[Path], None]:
    import numpy as np
    from PIL import Image

    def make(path: Path) -> None:
        Image.fromarray(np.asarray(pixels, np.uint8), mode).save(path)

    return make


def _blank_image(size: tuple[int, int]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        from PIL import Image

        Image.new("1", size).save(path)

    return make


def _cut_png(path: Path) -> None:
    """A PNG whose header reads and whose pixels end half-way."""
    import numpy as np

    _image(np.random.default_rng(0).integers(0, 256, (64, 64)))(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _push(blessed: bool) -> Callable[[Path], str]:
    """mnist-push's line for a workspace whose model is not the blessed one (or was not
    blessed)."""

    def line(folder: Path) -> str:
        from components.evaluate import serving
        from pipeline import artifacts, outputs
        from pipeline.reports import Blessing, Candidate, Score, Thresholds
        from tools import push

        paths = artifacts.under(folder)
        paths["model"].parent.mkdir(parents=True)
        paths["model"].write_bytes(b"a model")
        model_sha256 = serving.file_sha256(paths["model"]) if not blessed else "0" * 64
        blessing = Blessing(
            blessed=blessed,
            check="value",
            reason="test accuracy 0.9604 < evaluate.min_accuracy 0.97",
            candidate=Candidate(model_sha256=model_sha256, test=Score(accuracy=0.9604, loss=0.1)),
            baseline=None,
            thresholds=Thresholds(min_accuracy=0.97, max_accuracy_drop=0.0),
            pushed_version=1,
        )
        outputs.write_json(paths["reports"] / artifacts.BLESSING_FILE, blessing.to_json())
        said = _refused(lambda: push.blessed_model(Path(".")), folder)
        return f"{push.logger.name}: {said}"  # the log line's name: mnist-push logs as `tools`

    return line


def _schema(text: str | None) -> Callable[[Path], str]:
    def refusal(folder: Path) -> str:
        from pipeline.schema import read_schema

        if text is not None:
            (folder / "data").mkdir()
            (folder / "data" / "schema.json").write_text(text)
        return _refused(lambda: read_schema("data/schema.json"), folder)

    return refusal


_EPOCHS = "  epochs: 5\n"
REFUSALS: dict[str, Callable[[Path], str]] = {
    "params: unknown key 'train.epoch' ('epochs'?); delete it from params.yaml (-S +key adds "
    "it)": _params(_edited(_EPOCHS, _EPOCHS + "  epoch: 3\n")),
    "params: 'evaluate.push' is 'yes', a string in YAML 1.2; write true or false": _params(
        _edited("push: true", "push: yes")
    ),
    "params: 'train.batch_size' is 0; it must be an integer from 1 to 65536": _params(
        _edited("batch_size: 200", "batch_size: 0")
    ),
    "params: missing key ...": _params(_edited(_EPOCHS, "")),
    "params: ... is not valid YAML at line N": _params(_edited(_EPOCHS, "  epochs: [5\n")),
    "tune.yaml: 'space.train.epochs' is an empty range: low 5 is not below high 5": _space,
    "params: preprocess.runner 'NoSuchRunner' is not a Beam runner": _beam("NoSuchRunner"),
    "... unknown flag '--direct_num_worker=2'; did you mean --direct_num_workers?": _beam(
        "FnApiRunner", "--direct_num_worker=2"
    ),
    "... invalid int value: 'two'": _beam("FnApiRunner", "--direct_num_workers=two"),
    "params: preprocess.beam_args: no Beam job service answers at --job_endpoint=...": (
        lambda folder: _beam("PortableRunner", f"--job_endpoint={_nothing_at()}")(folder)
    ),
    "no Beam worker pool answers at ...": lambda folder: _beam(
        "PortableRunner", "--environment_type=EXTERNAL", f"--environment_config={_nothing_at()}"
    )(folder),
    "no Dask scheduler answers at --dask_client_address=...": lambda folder: _beam(
        "DaskRunner", f"--dask_client_address=tcp://{_nothing_at()}"
    )(folder),
    "params: params.yaml sets 'epochs' twice (lines 26 and 27); keep one": _params(
        _edited(_EPOCHS, _EPOCHS + "  epochs: 10\n")
    ),
    "params: params.yaml holds a value YAML cannot build ('month must be in 1..12'); fix or "
    "quote it": _params(_edited(_EPOCHS, "  epochs: 2001-13-45\n")),
    "params: params.yaml expands to more than 10000 values (YAML aliases?)": _params(_alias_bomb),
    "is larger than 1 MiB: not a settings file": _params(
        lambda path: path.write_text("#" * (2**20 + 1))
    ),
    "nests deeper than 32 levels": _params(lambda path: path.write_text("[" * 40 + "]" * 40)),
    "is not UTF-8 text (byte N)": _params(lambda path: path.write_bytes(b"data: \xff\n")),
    "is a folder, not a settings file": _params(lambda path: path.mkdir()),
    "is not a regular file": _params(lambda path: path.symlink_to(os.devnull)),
    "params: 'train.learning_rate' is inf; it must be a number in (0, 10]": _params(
        _edited("learning_rate: 0.001", "learning_rate: .inf")
    ),
    f"mirror: .../{_LABELS} is missing": _mirror(lambda mirror: (mirror / _LABELS).unlink()),
    "is not a gzip file": _mirror(_replace(_LABELS, b"not gzip")),
    "is truncated or corrupt": _mirror(_cut_short),
    "is not an IDX image file": _mirror(_replace("t10k-images-idx3-ubyte.gz", _labels(10_000))),
    "holds 10000x28x28, not 60000x28x28": _mirror(_test_images_as_train_images),
    "has N or more data bytes, its header says M": _mirror(_replace(_LABELS, _labels(10_001))),
    "is not mnist's published file (SHA-256)": _mirror(_replace(_LABELS, _labels(10_000))),
    "data/schema.json not found; re-run ingest": _schema(None),
    "... is not a dataset's schema (...)": _schema("{}"),
    "x.png: error: not an image: its bytes are none of PNG, JPEG, ...": _image_file(
        lambda path: path.write_bytes(b"not an image")
    ),
    "not a readable PNG, JPEG, ... image (...)": _image_file(_cut_png),
    "the file is empty": _image_file(lambda path: path.write_bytes(b"")),
    "the file is 80 MiB; the limit is 50 MiB": _image_file(_sparse_file(80 << 20)),
    "the image is 9000x9000; the limit is 50,000,000 pixels": _image_file(
        _blank_image((9000, 9000))
    ),
    "the image is too large (over Pillow's pixel limit)": _image_file(
        _blank_image((20_000, 20_000))
    ),
    "the image is blank: no ink found": _image_file(_image([[255] * 28] * 28)),
    "tools: models/model.keras is not the model reports/blessing.json blessed; `dvc checkout` "
    "restores the one that goes with it": _push(blessed=True),
    "the model was not blessed (...)": _push(blessed=False),
}

# What the page quotes that the project does not write: DVC's own lines (the page says so
# beside each) and the commands it names where they appear.
NOT_OURS = {
    "ERROR: Invalid `--set-param` value: Could not override 'train.epoch'.",
    "To append to your config use +train.epoch=3: Key 'epoch' is not in struct",
    "ERROR: failed to reproduce 'ingest': [Errno 2] No such file or directory: '/path/to/images'",
    "ERROR: failed to reproduce 'ingest': [Errno 2] No such file or directory: "
    "'.../.dvc/tmp/exps/tmp.../data/images'",
    "ERROR: failed to reproduce 'ingest': 'utf-8' codec can't encode character '\\udcff' in "
    "position 19: surrogates not allowed",
    "unexpected error - 'utf-8' codec ...",
    "ERROR: unexpected error - [Errno 30] Read-only file system: '.../.dvc/tmp/lock'",
    "[Errno 13] Permission denied",
    "ERROR: unexpected error - cannot import name 'current_app' from 'celery'",
    *("dvc queue logs <name>", "--temp", "dvc add", "dvc exp show", "mnist-compare", "dvc queue"),
    *("dvc repro", "dvc exp run -S train.epochs=1", "dvc exp run -S train.epochs=5", "DaskRunner"),
}
# Where the page's example values sit in a quoted line: numbers, paths and names, quoted
# values, placeholders.
_EXAMPLE = re.compile(r"\S*[\d/'<>=_.]\S*|\b[NML]\b")


def _messages_in(folders: tuple[str, ...] = ("pipeline", "components", "tools")) -> list[str]:
    """Every string the project's code holds: whole constants, and the parts of f-strings
    between their values."""
    import ast

    texts = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    texts.append(node.value)
    return texts


def _word_runs(quoted: str) -> list[str]:
    """The quoted line's own words, in runs between its example values and its stops."""
    runs = []
    for piece in re.split(r"\.\.\.|[;:(),]", quoted):
        for run in _EXAMPLE.split(piece):
            if len(words := run.split()) >= 2:
                runs.append(" ".join(words))
    return runs


def _in_messages(run: str, texts: list[str]) -> bool:
    """Whether the code holds `run`, perhaps around one value it fills in (`run the
    {stage} stage first`) or beside one at either end."""
    words = run.split()
    held = [" ".join(words[:n]) for n in range(len(words) + 1)]
    found = {text for text in held if not text or any(text in t for t in texts)}
    for n, _ in enumerate(words):  # words[n] a value the code fills in
        after = " ".join(words[n + 1 :])
        if held[n] in found and (not after or any(after in t for t in texts)):
            return True
    return " ".join(words) in found


def _logger_names() -> set[str]:
    """The names the stages' and tools' log lines start with (pipeline.logs' formatter)."""
    packages = {"pipeline", "tools"}
    for folder in ("components", "tools"):
        packages |= {path.parent.name for path in (ROOT / folder).glob("*/__init__.py")}
    return packages


@pytest.mark.parametrize("quoted", list(REFUSALS))
def test_troubleshooting_quotes_the_line_the_code_writes(quoted, tmp_path, request, monkeypatch):
    make = REFUSALS[quoted]
    if getattr(make, "needs_mirror", False):
        monkeypatch.setenv(_MIRROR, str(request.getfixturevalue("mirror_dir")))
    assert quoted in _quoted(), "the page no longer quotes it: drop it from REFUSALS"
    line = make(tmp_path)
    assert _says(quoted, line), f"the code says: {line}"


def test_every_other_line_troubleshooting_quotes_is_in_the_code_that_writes_it():
    texts = _messages_in()
    loggers = _logger_names()
    for quoted in _quoted():
        if quoted in REFUSALS or quoted in NOT_OURS:
            continue
        # A library's own words the line carries, in parentheses: (No space left on device).
        own = re.sub(r"\((?=[A-Z][a-z])[^)]*\)", "", quoted)
        missing = [run for run in _word_runs(own) if not _in_messages(run, texts)]
        assert missing == [], f"{quoted!r}: the code does not write {missing}"
        if (start := re.match(r"([\w-]+): ", quoted)) and not _EXAMPLE.fullmatch(start[1]):
            name = start[1]
            assert name in loggers or any(f"{name}: " in text for text in texts), (
                f"{quoted!r}: no message or log line starts {name}:"
            )


def test_the_params_bounds_troubleshooting_names_are_the_ones_refused(tmp_path):
    from pipeline import params

    page = TROUBLESHOOTING.read_text()
    bounds = "(seeds above 2^32 - 1, buffers over 1,000,000, hidden layers over 8192)"
    assert bounds in page
    assert (params.MAX_SEED, params.MAX_HIDDEN) == (2**32 - 1, 8192)
    said = _params(_edited("buffer_size: 10000", "buffer_size: 1000001"))(tmp_path)
    assert said.endswith("'train.buffer_size' is 1000001; it must be an integer from 1 to 1000000")


def test_the_security_page_states_mnist_serves_limits_as_the_code_sets_them():
    import math

    import h11._connection
    import uvicorn

    from tests.support.records import MNIST
    from tools.serve import app, cli, predict

    section = (ROOT / "docs/security.md").read_text().split("## mnist-serve\n", 1)[1]
    rows = {
        cells[0]: cells[1]
        for cells in (line.strip("| ").split(" | ") for line in section.splitlines())
        if len(cells) == 3 and cells[0] != "limit"
    }
    side = math.isqrt(predict.MAX_PNG_PIXELS)
    seconds = f"{predict.TIMEOUT_MS / 1000:g} s"
    served = uvicorn.Config(app=None)
    expected = {
        "request body": f"{predict.MAX_BODY_BYTES >> 20} MiB",
        "images a request": f"{predict.MAX_INSTANCES:,}",
        "lists in a request": f"{predict._nesting(MNIST)[0]:,} for 28x28 images",
        "request bodies held at once": f"{app.BODY_BUDGET_BYTES >> 20} MiB",
        "a PNG's declared size": f"{side}x{side} pixels",
        "a request's PNGs": f"{predict.MAX_REQUEST_PIXELS:,} pixels in all",
        "time for a request's headers": seconds,
        "time for its body": seconds,
        "request headers' size": f"{h11._connection.DEFAULT_MAX_INCOMPLETE_EVENT_SIZE >> 10} KiB",
        "idle kept-alive connection": f"{served.timeout_keep_alive} s",
        "listens on": cli._parser().get_default("host"),
    }
    assert side * side == predict.MAX_PNG_PIXELS
    assert served.h11_max_incomplete_event_size is None  # h11's default, as mnist-serve runs
    assert list(rows) == list(expected)
    for limit, value in expected.items():
        assert re.match(re.escape(value) + r"(?![\w.])", rows[limit]), (limit, rows[limit])

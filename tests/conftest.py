"""Shared fixtures: the real-MNIST mirror, slices of it as raw records, stage outputs, and
the schema files they follow (MNIST's, and a second one unlike it: tests.support.records).

Helpers the tests share live in tests/support; this file holds fixtures only.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from components.ingest import mirror
from pipeline import schema
from tests.support import ROOT
from tests.support.once import built_once
from tests.support.postgres import postgres  # noqa: F401 (a session fixture, by its name)
from tests.support.records import (
    LOOSE_LIMITS,
    MNIST,
    PETS,
    default_params,
    schema_file,
    tinted_examples,
    train_model,
    write_records,
)

DEFAULT_MIRROR = ROOT.parent / "shared" / "data" / "mnist"

# The fuzzers' budgets: `bounded` (the default) keeps each property to seconds and derives
# its inputs from a fixed seed, so a CI failure reproduces; `long` explores for real:
# `pytest --hypothesis-profile=long tests/pipeline tests/components tests/tools`.
_FUZZ = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("bounded", max_examples=150, derandomize=True, **_FUZZ)
settings.register_profile("long", max_examples=20_000, **_FUZZ)


def pytest_configure(config: pytest.Config) -> None:
    settings.load_profile(config.getoption("hypothesis_profile", None) or "bounded")
    # Tests press Ctrl-C (SIGINT) on the processes they start. Started from a script's `&`
    # or nohup, pytest inherits SIGINT ignored, and so would every one of those processes:
    # they get a terminal's default back.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The offline MNIST mirror: $DATA_MIRROR, else ../shared/data/mnist."""
    path = Path(os.environ.get("DATA_MIRROR") or DEFAULT_MIRROR).resolve()
    if not all((path / name).is_file() for name in mirror.FILES.values()):
        message = f"no MNIST mirror at {path}; set DATA_MIRROR to the folder of IDX .gz files"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def broken_mirror(tmp_path: Path, mirror_dir: Path) -> Path:
    """A writable copy of the mirror for a test to damage."""
    copy = tmp_path / "mirror"
    shutil.copytree(mirror_dir, copy)
    for path in copy.iterdir():
        path.chmod(0o644)
    return copy


@pytest.fixture(scope="session")
def mnist(mirror_dir: Path) -> dict[str, np.ndarray]:
    """The four verified IDX arrays of real MNIST."""
    return mirror.read_mirror(mirror_dir)


@pytest.fixture(scope="session")
def mnist_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A schema.json holding MNIST's schema (tests.support.records.MNIST), as ingest writes it."""
    return schema_file(tmp_path_factory.mktemp("schema"), MNIST)


@pytest.fixture(scope="session")
def small_raw_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """Ingest-format records of a real slice: the first 2000 train and 500 test digits.
    Their schema is `mnist_schema`."""

    def build(folder: Path) -> None:
        mnist = request.getfixturevalue("mnist")  # read only by the worker that builds
        for split, n in ((schema.TRAIN, 2000), (schema.TEST, 500)):
            keys = [schema.example_key(split, i) for i in range(n)]
            images = mnist[f"{split}_images"][:n].reshape(n, *MNIST.image_shape)
            write_records(folder / "raw", split, keys, images, mnist[f"{split}_labels"][:n])

    return built_once(tmp_path_factory, "small-raw", build) / "raw"


@pytest.fixture(scope="session")
def small_processed_dir(
    tmp_path_factory: pytest.TempPathFactory, small_raw_dir: Path, mnist_schema: Path
) -> Path:
    """Preprocess's output for `small_raw_dir`, with the default params."""
    return _preprocessed(tmp_path_factory, "small-processed", small_raw_dir, mnist_schema)


def _preprocessed(factory: pytest.TempPathFactory, name: str, raw: Path, schema_path: Path) -> Path:
    from components.preprocess.stage import Paths, preprocess

    def build(folder: Path) -> None:
        paths = Paths(raw=str(raw), schema=str(schema_path), out=str(folder / "processed"))
        preprocess(paths, default_params().preprocess, LOOSE_LIMITS)

    return built_once(factory, name, build) / "processed"


@pytest.fixture(scope="session")
def small_model(
    tmp_path_factory: pytest.TempPathFactory, small_processed_dir: Path, mnist_schema: Path
) -> Path:
    """The reference MLP trained 1 epoch on `small_processed_dir`'s 1,800 training digits."""
    return _trained(tmp_path_factory, "small-model", small_processed_dir, mnist_schema, epochs=1)


def _trained(
    factory: pytest.TempPathFactory, name: str, data: Path, schema_path: Path, epochs: int
) -> Path:
    params = dataclasses.replace(default_params().train, epochs=epochs)
    folder = built_once(factory, name, lambda path: train_model(path, data, schema_path, params))
    return folder / "model.keras"


@pytest.fixture(scope="session")
def pets_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A schema.json holding tests.support.records.PETS: RGB 12x10 images of four classes."""
    return schema_file(tmp_path_factory.mktemp("pets"), PETS)


@pytest.fixture(scope="session")
def pets_raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ingest-format records of `pets_schema`: 400 train and 100 test images, made so a small
    model learns them (tests.support.records.tinted_examples)."""

    def build(folder: Path) -> None:
        for split, n, seed in ((schema.TRAIN, 400, 0), (schema.TEST, 100, 1)):
            write_records(folder / "raw", split, *tinted_examples(PETS, split, n, seed))

    return built_once(tmp_path_factory, "pets-raw", build) / "raw"


@pytest.fixture(scope="session")
def pets_processed_dir(
    tmp_path_factory: pytest.TempPathFactory, pets_raw_dir: Path, pets_schema: Path
) -> Path:
    """Preprocess's output for `pets_raw_dir`, with the default params."""
    return _preprocessed(tmp_path_factory, "pets-processed", pets_raw_dir, pets_schema)


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    """The real ingest stage's output for all of MNIST, with every socket connect refused;
    the schema it inferred is beside it (`ingested_schema`)."""
    from components.ingest.stage import Paths, ingest

    def refuse(*args, **kwargs):
        raise AssertionError(f"ingest tried the network: {args}")

    def build(folder: Path) -> None:
        paths = Paths(out=str(folder / "raw"), schema=str(folder / "schema.json"))
        data = dataclasses.replace(default_params().data, dataset="mnist", mirror=str(mirror_dir))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(socket.socket, "connect", refuse)
            patch.setattr(socket, "create_connection", refuse)
            ingest(paths, data)

    return built_once(tmp_path_factory, "full-ingest", build) / "raw"


@pytest.fixture(scope="session")
def ingested_schema(raw_dir: Path) -> Path:
    """The schema.json the real ingest wrote beside `raw_dir`."""
    return raw_dir.with_name("schema.json")


@pytest.fixture(scope="session")
def processed_dir(
    tmp_path_factory: pytest.TempPathFactory, raw_dir: Path, ingested_schema: Path
) -> Path:
    """The real preprocess stage's output for all of MNIST, default params."""
    from components.preprocess.stage import Paths, preprocess

    def build(folder: Path) -> None:
        params = default_params()  # real data, real drift thresholds
        paths = Paths(raw=str(raw_dir), schema=str(ingested_schema), out=str(folder / "processed"))
        preprocess(paths, params.preprocess, params.validate)

    return built_once(tmp_path_factory, "full-processed", build) / "processed"


@pytest.fixture(scope="session")
def trained_model(
    tmp_path_factory: pytest.TempPathFactory, processed_dir: Path, ingested_schema: Path
) -> Path:
    """The reference MLP trained 2 epochs on all of MNIST's train split."""
    return _trained(tmp_path_factory, "full-model", processed_dir, ingested_schema, epochs=2)


@pytest.fixture(scope="session")
def serving_dir(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Path:
    """`trained_model` exported as the serving SavedModel, with MNIST's schema."""
    import keras

    from components.evaluate.export import export_saved_model

    def build(folder: Path) -> None:
        export_saved_model(keras.models.load_model(trained_model), folder / "serving", MNIST)

    return built_once(tmp_path_factory, "full-serving", build) / "serving"


@pytest.fixture(scope="session")
def small_serving_dir(tmp_path_factory: pytest.TempPathFactory, small_model: Path) -> Path:
    """A serving folder holding `small_model` as version 1, with MNIST's schema: a version as
    evaluate pushes it, trained in seconds."""
    import keras

    from components.evaluate.export import export_saved_model

    def build(folder: Path) -> None:
        export_saved_model(keras.models.load_model(small_model), folder / "serving" / "1", MNIST)

    return built_once(tmp_path_factory, "small-serving", build) / "serving"


@pytest.fixture(scope="session")
def small_signatures(small_serving_dir: Path):
    """The signatures of `small_serving_dir`'s version 1, loaded by TensorFlow: the answers
    a served version is held to."""
    import tensorflow as tf

    return tf.saved_model.load(str(small_serving_dir / "1")).signatures


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The e2e tests first: they take longest, and the other files fill the workers beside
    them. Among them, the tests of the MNIST and the digits baselines (tests/e2e/conftest.py)
    take turns, the other e2e tests a third line beside them, so the workers' first tests
    build different baselines at once rather than one waiting for the other's. The sorts are
    stable: a file's tests keep their order."""
    turns: dict[str, int] = {}

    def turn(item: pytest.Item) -> int:
        baseline = next((f for f in _BASELINES if f in item.fixturenames), "")
        turns[baseline] = turns.get(baseline, -1) + 1
        return turns[baseline]

    e2e = [item for item in items if item.get_closest_marker("e2e")]
    order = {item.nodeid: turn(item) for item in e2e}
    items.sort(key=lambda item: (item.nodeid not in order, order.get(item.nodeid, 0)))


_BASELINES = ("mnist_project", "digits_project")  # the fixtures of tests/e2e/conftest.py


E2E = "tests/e2e/"


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's: without it, never called
def pytest_xdist_make_scheduler(config: pytest.Config, log) -> object:
    """pytest-xdist's work units under the default `--dist loadscope` (pyproject.toml), handed
    out in collection order: a whole file for the unit tests (their module fixtures are built
    once), each e2e test on its own, as each starts from a copy of its own
    (tests/e2e/conftest.py) and a file of them would keep one worker busy while the other
    idles. Another `--dist` given on the command line is pytest-xdist's own. (--dist
    loadgroup would say it with marks, but ignores them with pytest 9.2, pytest-xdist#1386.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByFileButE2E(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if path.startswith(E2E) else path

    return ByFileButE2E(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Each phase's report kept on its test (`item.failed_phase`), for fixtures that keep
    evidence when a test failed (tests/support/project.copies)."""
    report = yield
    if report.failed:
        item.failed_phase = report.when
    return report

"""Every bad input a user can cause, through the stage commands as DVC runs them.

Each case asserts exit status 1, exactly one error line that names the problem, no
traceback, and that the stage's previous output is byte-for-byte untouched. The cases run
in this process through the stages' real entry point (tests/support/stages.py); the real
command's wiring, once per stage, is tests/test_faults.py's (a full disk needs a process).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import yaml

from components.evaluate.stage import Paths as EvaluatePaths
from components.ingest.stage import Paths as IngestPaths
from components.preprocess.stage import Paths as PreprocessPaths
from components.train.stage import Paths as TrainPaths
from pipeline import schema, stats
from pipeline.params import NO_EXCLUDE
from pipeline.stats import SplitStats
from tests.support import ROOT
from tests.support.cluster import HOST, free_port
from tests.support.damage import MIRROR_DAMAGE
from tests.support.fuzz import ALIAS_BOMB
from tests.support.records import MNIST, PETS, raw_examples, write_records
from tests.support.stages import assert_fails_cleanly, run_stage, snapshot, temps_left


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A project-like folder: default params, and an `out` holding a previous output."""
    params = (ROOT / "params.yaml").read_text()  # its exclude file, the project's own
    exclude = f"exclude: {NO_EXCLUDE}"
    (tmp_path / "p.yaml").write_text(params.replace(exclude, f"exclude: {ROOT / NO_EXCLUDE}"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "previous.txt").write_text("the last good output")
    return tmp_path


def _set_params(workdir: Path, section: str, key: str, value) -> None:
    params = yaml.safe_load((workdir / "p.yaml").read_text())
    params[section][key] = value
    (workdir / "p.yaml").write_text(yaml.safe_dump(params))


# ---- params: every stage validates params.yaml before any work ----

PARAMS_CASES = {
    "typo": (
        "train",
        "epoch",
        5,
        "unknown key 'train.epoch' ('epochs'?); delete it from ",
    ),
    "zero_batch": (
        "train",
        "batch_size",
        0,
        "'train.batch_size' is 0; it must be an integer from 1",
    ),
    "fraction": ("preprocess", "validation_fraction", 1.5, "must be a number strictly between"),
    "dataset": ("data", "dataset", "cifar10", "one of mnist, fashion_mnist, kmnist"),
}


@pytest.mark.parametrize("case", PARAMS_CASES)
def test_bad_params(workdir, case):
    section, key, value, message = PARAMS_CASES[case]
    _set_params(workdir, section, key, value)
    before = snapshot(workdir / "out")
    result = run_stage(
        "train",
        TrainPaths(data="d", schema="s.json", model="out/model.keras", live="l"),
        cwd=workdir,
    )
    assert_fails_cleanly(result, message)
    assert snapshot(workdir / "out") == before


def test_params_not_yaml(workdir):
    (workdir / "p.yaml").write_text("train: {epochs: 5\n")
    result = run_stage(
        "evaluate",
        EvaluatePaths(data="d", schema="s.json", model="m", out="out", serving="s"),
        cwd=workdir,
    )
    assert_fails_cleanly(result, "p.yaml is not valid YAML at line")
    assert (workdir / "out" / "previous.txt").exists()


# ---- Beam runner settings: checked before the pipeline starts ----

RUNNER_CASES = {
    "unknown_runner": ({"runner": "NoSuchRunner"}, "'NoSuchRunner' is not a Beam runner"),
    "unknown_flag": (
        {"beam_args": ["--direct_num_worker=2"]},
        "unknown flag '--direct_num_worker=2'; did you mean --direct_num_workers?",
    ),
    "malformed_flag": (
        {"beam_args": ["--direct_num_workers=two"]},
        "--direct_num_workers: invalid int value: 'two'",
    ),
    "no_job_service": (
        {"runner": "PortableRunner", "beam_args": [f"--job_endpoint=localhost:{free_port()}"]},
        "no Beam job service answers at --job_endpoint=localhost:",
    ),
    "no_worker_pool": (
        {
            "runner": "PortableRunner",
            "beam_args": [
                "--environment_type=EXTERNAL",
                f"--environment_config=localhost:{free_port()}",
            ],
        },
        "no Beam worker pool answers at --environment_config=localhost:",
    ),
    "no_dask_scheduler": (
        {
            "runner": "DaskRunner",
            "beam_args": [f"--dask_client_address=tcp://{HOST}:{free_port()}"],
        },
        "no Dask scheduler answers at --dask_client_address=127.0.0.1:",
    ),
    "dask_flag_typo": (
        {"runner": "DaskRunner", "beam_args": ["--dask_client_adress=tcp://127.0.0.1:8786"]},
        "did you mean --dask_client_address?",
    ),
}


@pytest.mark.parametrize("case", RUNNER_CASES)
def test_bad_runner_settings(workdir, small_raw_dir, mnist_schema, case):
    settings, message = RUNNER_CASES[case]
    for key, value in settings.items():
        _set_params(workdir, "preprocess", key, value)
    before = snapshot(workdir / "out")
    paths = PreprocessPaths(raw=str(small_raw_dir), schema=str(mnist_schema), out="out")
    result = run_stage("preprocess", paths, cwd=workdir)
    assert_fails_cleanly(result, message)
    assert snapshot(workdir / "out") == before


# ---- the offline mirror ----


@pytest.mark.parametrize("damage", MIRROR_DAMAGE)
def test_bad_mirror(workdir, broken_mirror, damage):
    spoil, message = MIRROR_DAMAGE[damage]
    spoil(broken_mirror)
    (workdir / "schema.json").write_text("the last good schema")
    before = snapshot(workdir / "out")
    env = {"DATA_MIRROR": str(broken_mirror)}
    paths = IngestPaths(out="out", schema="schema.json")
    result = run_stage("ingest", paths, cwd=workdir, env=env)
    assert_fails_cleanly(result, message)
    assert snapshot(workdir / "out") == before
    assert (workdir / "schema.json").read_text() == "the last good schema"


def test_mirror_not_a_folder(workdir):
    env = {"DATA_MIRROR": "nowhere"}
    paths = IngestPaths(out="out", schema="schema.json")
    result = run_stage("ingest", paths, cwd=workdir, env=env)
    assert_fails_cleanly(result, "nowhere is not a folder of IDX files; set DATA_MIRROR")
    assert (workdir / "out" / "previous.txt").exists()
    assert not (workdir / "schema.json").exists()


# ---- records between stages ----


def _truncate_file(folder: Path, split: str) -> None:
    path = folder / schema.split_file(split)
    path.write_bytes(path.read_bytes()[:-1000])


def _flip_byte(folder: Path, split: str) -> None:
    path = folder / schema.split_file(split)
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))


def _not_an_example(folder: Path, split: str) -> None:
    with tf.io.TFRecordWriter(str(folder / schema.split_file(split))) as writer:
        writer.write(b"this is not a serialised tf.train.Example")


RECORD_CASES = {
    "truncated_raw": ("preprocess", _truncate_file, "is truncated or corrupted"),
    "garbage_raw": ("preprocess", _not_an_example, "holds a record that is not a"),
    "flipped_processed": ("train", _flip_byte, "is truncated or corrupted"),
}


@pytest.mark.parametrize("case", RECORD_CASES)
def test_damaged_records_name_the_file(
    workdir, small_raw_dir, small_processed_dir, mnist_schema, case
):
    stage, damage, message = RECORD_CASES[case]
    source = small_raw_dir if stage == "preprocess" else small_processed_dir
    data = workdir / "data"
    shutil.copytree(source, data)
    damage(data, schema.TRAIN)
    paths = (
        PreprocessPaths(raw="data", schema=str(mnist_schema), out="out")
        if stage == "preprocess"
        else TrainPaths(data="data", schema=str(mnist_schema), model="out/model.keras", live="live")
    )
    before = snapshot(workdir / "out")
    result = run_stage(stage, paths, cwd=workdir)
    assert_fails_cleanly(result, message, schema.split_file(schema.TRAIN))
    assert snapshot(workdir / "out") == before


# ---- schema anomalies in a stage's input ----


def _raw(mnist, split: str, n: int):
    return raw_examples(mnist, split, n)


def _label_twelve(keys, images, labels):
    labels = labels.copy()
    labels[5] = 12
    return keys, images, labels


def _wrong_shape(keys, images, labels):
    return (
        keys,
        [image.reshape(-1)[:700] if i == 3 else image for i, image in enumerate(images)],
        labels,
    )


def _empty(keys, images, labels):
    return [], [], []


def _no_sevens(keys, images, labels):
    keep = labels != 7
    return [k for k, kept in zip(keys, keep, strict=True) if kept], images[keep], labels[keep]


def _train_keys(keys, images, labels):
    return [schema.example_key(schema.TRAIN, i) for i in range(len(keys))], images, labels


# case -> (what to do to the test split, what the error names)
ANOMALY_CASES: dict[str, tuple[Callable, str]] = {
    "label_out_of_range": (_label_twelve, "test: 1 labels outside 0-9 (values 12)"),
    "wrong_image_shape": (_wrong_shape, "test: 1 images are not (28, 28, 1)"),
    "empty_split": (_empty, "test: the split is empty"),
    "class_missing": (_no_sevens, "test: no examples of class 7"),
    "key_in_two_splits": (_train_keys, "keys are in both train and test"),
}


@pytest.mark.parametrize("case", ANOMALY_CASES)
def test_schema_anomaly_fails_with_a_report(workdir, mnist, mnist_schema, case):
    change, message = ANOMALY_CASES[case]
    write_records(workdir / "raw", schema.TRAIN, *_raw(mnist, schema.TRAIN, 500))
    write_records(workdir / "raw", schema.TEST, *change(*_raw(mnist, schema.TEST, 200)))
    before = snapshot(workdir / "out")
    wiring = case == "label_out_of_range"  # the preprocess stage's, once
    paths = PreprocessPaths(raw="raw", schema=str(mnist_schema), out="out")
    result = run_stage("preprocess", paths, cwd=workdir, process=wiring)
    assert_fails_cleanly(result, message, "anomalies/preprocess.json")
    assert message in (workdir / "anomalies" / "preprocess.json").read_text()
    assert snapshot(workdir / "out") == before


def _processed_with_nan(workdir: Path, mnist) -> Path:
    """Processed records, one NaN pixel in train's 8th, and a stats.json that counts them."""
    keys, images, labels = _raw(mnist, schema.TRAIN, 300)
    scaled = images.astype(np.float32) / 255
    scaled[7, 3, 3, 0] = np.nan
    data = workdir / "data"
    write_records(data, schema.TRAIN, keys, scaled, labels)
    val_keys = [f"v{i}".encode() for i in range(100)]
    write_records(data, schema.VALIDATION, val_keys, scaled[:100], labels[:100])
    counts = {schema.TRAIN: 300, schema.VALIDATION: 100}
    split_stats = {s: SplitStats(n, n, (n // 10,) * 10, (0.1,), (0.3,)) for s, n in counts.items()}
    (data / "stats.json").write_text(stats.dumps(split_stats))
    return data


@pytest.mark.parametrize("cache_mib", [1024, 0], ids=["in_memory", "streamed"])
def test_nan_pixels_reach_no_training(workdir, mnist, mnist_schema, cache_mib):
    _processed_with_nan(workdir, mnist)
    _set_params(workdir, "train", "cache_mib", cache_mib)
    paths = TrainPaths(data="data", schema=str(mnist_schema), model="out/model.keras", live="live")
    result = run_stage("train", paths, cwd=workdir)
    file = Path("data") / schema.split_file(schema.TRAIN)  # as the command named the folder
    assert_fails_cleanly(result, f"{file}: 1 pixels are NaN", "anomalies/train.json")
    assert (workdir / "out" / "previous.txt").exists()
    assert not (workdir / "live").exists()


def test_drift_between_splits_fails_preprocess(workdir, mnist, mnist_schema):
    _set_params(workdir, "validate", "max_class_drift", 1.0)  # 500 examples: chance drift
    write_records(workdir / "raw", schema.TRAIN, *_raw(mnist, schema.TRAIN, 500))
    keys, images, labels = _raw(mnist, schema.TEST, 200)
    write_records(workdir / "raw", schema.TEST, keys, 255 - images, labels)  # inverted digits
    paths = PreprocessPaths(raw="raw", schema=str(mnist_schema), out="out")
    result = run_stage("preprocess", paths, cwd=workdir)
    assert_fails_cleanly(result, "test: pixel mean drifts", "validate.max_pixel_mean_drift")
    assert (workdir / "out" / "previous.txt").exists()


def test_a_validation_split_too_small_names_the_param_that_sizes_it(workdir, mnist, mnist_schema):
    _set_params(workdir, "preprocess", "validation_fraction", 1e-9)
    write_records(workdir / "raw", schema.TRAIN, *_raw(mnist, schema.TRAIN, 500))
    write_records(workdir / "raw", schema.TEST, *_raw(mnist, schema.TEST, 200))
    paths = PreprocessPaths(raw="raw", schema=str(mnist_schema), out="out")
    result = run_stage("preprocess", paths, cwd=workdir)
    said = "validation: the split is empty (preprocess.validation_fraction 1e-09 decides its size)"
    assert_fails_cleanly(result, said)
    assert (workdir / "out" / "previous.txt").exists()


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        ("train-00001\ntrain-99999\n", "preprocess.exclude: 1 match no example ('train-99999')"),
        (None, "preprocess.exclude gone.txt not found; create it, or name another file"),
    ],
    ids=["no_such_key", "no_such_file"],
)
def test_an_exclude_file_naming_no_example_fails_preprocess(
    workdir, mnist, mnist_schema, lines, said
):
    _set_params(workdir, "preprocess", "exclude", "gone.txt" if lines is None else "drop.txt")
    if lines is not None:
        (workdir / "drop.txt").write_text(lines)
    write_records(workdir / "raw", schema.TRAIN, *_raw(mnist, schema.TRAIN, 500))
    write_records(workdir / "raw", schema.TEST, *_raw(mnist, schema.TEST, 200))
    before = snapshot(workdir / "out")
    paths = PreprocessPaths(raw="raw", schema=str(mnist_schema), out="out")
    result = run_stage("preprocess", paths, cwd=workdir)
    assert_fails_cleanly(result, said)
    assert snapshot(workdir / "out") == before
    assert not temps_left(workdir)


# ---- the schema ingest wrote, which every later stage reads ----

HUGE = schema.Schema(1024, 1024, 3, "uint8", tuple("0123456789"), schema.RESIZE)


def _schema_device(path: Path) -> None:
    path.symlink_to("/dev/zero")


SCHEMA_CASES: dict[str, tuple[Callable[[Path], object], str]] = {
    "missing": (lambda path: None, "s.json not found; re-run ingest (dvc repro --force -s ingest)"),
    "not_json": (lambda path: path.write_text("{"), "s.json is not a dataset's schema (Expecting"),
    "a_device": (_schema_device, "s.json is not a dataset's schema (not a regular file)"),
    "a_field_short": (
        lambda path: path.write_text(json.dumps({**PETS.to_json(), "width": None})),
        "s.json is not a dataset's schema (Schema.width is None, not a int)",
    ),
    "five_channels": (
        lambda path: path.write_text(json.dumps({**PETS.to_json(), "channels": 5})),
        "(5 channels: images are grey (1) or RGB (3)); re-run ingest",
    ),
}


def _stage_paths(stage: str, data: Path, schema_path: str) -> object:
    """The paths of a stage reading `data` with the schema at `schema_path`; evaluate's
    model is never reached."""
    return {
        "preprocess": PreprocessPaths(raw=str(data), schema=schema_path, out="out"),
        "train": TrainPaths(
            data=str(data), schema=schema_path, model="out/model.keras", live="live"
        ),
        "evaluate": EvaluatePaths(
            data=str(data), schema=schema_path, model="m.keras", out="out", serving="s"
        ),
    }[stage]


@pytest.mark.parametrize("stage", ["preprocess", "train", "evaluate"])
@pytest.mark.parametrize("case", SCHEMA_CASES)
def test_a_bad_schema_file_is_one_line_naming_the_fix(
    workdir, small_raw_dir, small_processed_dir, stage, case
):
    damage, message = SCHEMA_CASES[case]
    damage(workdir / "s.json")
    data = small_raw_dir if stage == "preprocess" else small_processed_dir
    before = snapshot(workdir / "out")
    result = run_stage(stage, _stage_paths(stage, data, "s.json"), cwd=workdir)
    assert_fails_cleanly(result, message)
    assert snapshot(workdir / "out") == before


@pytest.mark.parametrize("stage", ["preprocess", "train", "evaluate"])
@pytest.mark.parametrize(
    ("edited", "said"),
    [
        (PETS, "s.json says 12x10x3, "),  # another dataset's: none of the records fits it
        (HUGE, "s.json says 1024x1024x3, "),  # a model of it alone would need gigabytes
    ],
    ids=["pets", "huge"],
)
def test_a_schema_that_is_not_the_records_is_refused_before_they_are_read(
    workdir, small_raw_dir, small_processed_dir, stage, edited, said
):
    schema.write_schema(workdir / "s.json", edited)
    data = small_raw_dir if stage == "preprocess" else small_processed_dir
    before = snapshot(workdir / "out")
    result = run_stage(stage, _stage_paths(stage, data, "s.json"), cwd=workdir)
    assert_fails_cleanly(result, said, f"{data.name} {28 * 28} values: dvc checkout s.json")
    assert snapshot(workdir / "out") == before


@pytest.mark.parametrize("stage", ["train", "evaluate"])
def test_a_schema_with_more_classes_than_the_records_is_refused(
    workdir, small_processed_dir, stage
):
    # Once accepted silently: a model of 12 classes trained on records of 10.
    more = dataclasses.replace(MNIST, classes=(*MNIST.classes, "ten", "eleven"))
    schema.write_schema(workdir / "s.json", more)
    before = snapshot(workdir / "out")
    result = run_stage(stage, _stage_paths(stage, small_processed_dir, "s.json"), cwd=workdir)
    assert_fails_cleanly(result, "s.json says 12 classes, ", "stats.json 10: dvc checkout s.json")
    assert snapshot(workdir / "out") == before


# ---- the settings files themselves ----

SETTINGS_CASES = {
    "alias_bomb": (ALIAS_BOMB, "expands to more than 10000 values"),
    "fifty_megabytes": ("a: " + "1" * 50_000_000 + "\n", "is larger than 1 MiB"),
    "duplicate_key": (
        (ROOT / "params.yaml").read_text().replace("  epochs: 5", "  epochs: 5\n  epochs: 6"),
        "sets 'epochs' twice",
    ),
    "not_utf8": (b"train:\n  model: \xe9\n", "is not UTF-8 text"),
    "inf_learning_rate": (
        (ROOT / "params.yaml").read_text().replace("learning_rate: 0.001", "learning_rate: .inf"),
        "'train.learning_rate' is inf",
    ),
}


@pytest.mark.parametrize("case", SETTINGS_CASES)
def test_a_hostile_params_file_is_one_line(workdir, case):
    content, message = SETTINGS_CASES[case]
    path = workdir / "p.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    before = snapshot(workdir / "out")
    paths = TrainPaths(data="d", schema="s.json", model="out/model.keras", live="l")
    result = run_stage("train", paths, cwd=workdir)
    assert_fails_cleanly(result, message)
    assert snapshot(workdir / "out") == before


def test_a_params_file_that_is_a_device_or_a_folder(workdir):
    (workdir / "p.yaml").unlink()
    (workdir / "p.yaml").symlink_to("/dev/zero")
    paths = TrainPaths(data="d", schema="s.json", model="out/model.keras", live="l")
    assert_fails_cleanly(run_stage("train", paths, cwd=workdir), "p.yaml is not a regular file")
    (workdir / "p.yaml").unlink()
    (workdir / "p.yaml").mkdir()
    assert_fails_cleanly(run_stage("train", paths, cwd=workdir), "p.yaml is a folder")

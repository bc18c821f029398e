import copy
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import PipelineError
from pipeline.params import check_key, check_value, load_params, parse_params
from tests.support import ROOT


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_repo_params_pin_the_reference_notebook():
    params = load_params(ROOT / "params.yaml")
    # The reference notebook's settings: the default run must be that experiment.
    assert params.data.dataset == "mnist"
    assert params.preprocess.validation_fraction == 0.1
    assert (params.train.batch_size, params.train.epochs, params.train.buffer_size) == (
        200,
        5,
        10000,
    )
    assert (params.train.model, params.train.hidden_layer_size) == ("mlp", 200)
    assert params.train.learning_rate == 0.001  # Keras's Adam default, which the notebook used


def test_typo_names_key_and_closest_valid_one(raw):
    raw["train"]["epoch"] = raw["train"].pop("epochs")
    with pytest.raises(PipelineError, match=r"unknown key 'train.epoch' \('epochs'\?\)"):
        parse_params(raw)


@pytest.mark.parametrize(
    ("section", "key", "value", "allowed"),
    [
        ("train", "batch_size", 0, "an integer from 1 to 65536"),
        ("train", "epochs", 2.5, "an integer from 1 to 10000"),
        ("train", "epochs", True, "an integer from 1 to 10000"),
        ("train", "min_steps", -1, "an integer from 0 to 1000000"),
        ("train", "min_steps", 1e3, "an integer from 0 to 1000000"),  # YAML 1.2's float
        ("train", "buffer_size", "big", "an integer from 1 to 1000000"),
        ("train", "buffer_size", 2**64, "an integer from 1 to 1000000"),  # beyond int64
        ("train", "learning_rate", 0, "a number in (0, 10]"),
        ("train", "learning_rate", float("inf"), "a number in (0, 10]"),
        ("train", "learning_rate", float("nan"), "a number in (0, 10]"),
        # Passes as a positive integer, and is killed for memory at 8.8 GB while building.
        ("train", "hidden_layer_size", 3_000_000, "an integer from 1 to 8192"),
        ("train", "seed", 2**32, "an integer from 0 to 4294967295"),
        ("evaluate", "min_accuracy", float("-inf"), "a number in [0, 1]"),
        ("train", "model", "resnet", "one of mlp, cnn"),
        # Removed: MultiWorkerMirroredStrategy fails under Keras 3's fit (docs/scaling.md).
        ("train", "distribute", "multi_worker", "one of none, mirrored"),
        ("evaluate", "max_accuracy_drop", -0.1, "a number in [0, 1]"),
        ("preprocess", "validation_fraction", 1.0, "strictly between 0 and 1"),
        ("preprocess", "validation_fraction", 0, "strictly between 0 and 1"),
        ("preprocess", "seed", -1, "an integer from 0 to 4294967295"),
        ("preprocess", "seed", 2**40, "an integer from 0 to 4294967295"),
        ("preprocess", "beam_args", "--x", "a list of --flag strings"),
        ("data", "dataset", "cifar10", "one of mnist, fashion_mnist, kmnist"),
    ],
)
def test_bad_value_names_key_value_and_allowed(raw, section, key, value, allowed):
    raw = copy.deepcopy(raw)
    raw[section][key] = value
    with pytest.raises(PipelineError) as error:
        parse_params(raw)
    message = str(error.value)
    assert f"'{section}.{key}' is {value!r}" in message
    assert allowed in message


def test_missing_key_is_named(raw):
    del raw["train"]["seed"]
    with pytest.raises(PipelineError, match=r"missing key 'train.seed'"):
        parse_params(raw)


def test_an_unknown_section_of_another_type_is_shown_as_it_is(raw):
    raw[5] = {}
    with pytest.raises(PipelineError, match=r"unknown section 5; known keys: data, preprocess"):
        parse_params(raw)


def test_unknown_section_is_named(raw):
    raw["trian"] = raw.pop("train")
    with pytest.raises(PipelineError, match=r"unknown section 'trian' \('train'\?\)"):
        parse_params(raw)


def test_invalid_yaml_names_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  epochs: [5\n")
    with pytest.raises(PipelineError, match=r"not valid YAML at line \d+"):
        load_params(path)


def test_missing_file(tmp_path):
    with pytest.raises(PipelineError, match="not found"):
        load_params(tmp_path / "params.yaml")


def test_a_long_value_is_shown_cut_to_a_readable_length(raw):
    raw["train"]["model"] = "x" * 10_000_000
    with pytest.raises(PipelineError) as error:
        parse_params(raw)
    assert len(str(error.value)) < 200 and "'train.model' is 'xxx" in str(error.value)


def test_a_float_param_written_as_an_integer_is_a_float(raw):
    # Keras refuses an int learning rate; `learning_rate: 1` means the float 1.0.
    raw["train"]["learning_rate"] = 1
    rate = parse_params(raw).train.learning_rate
    assert rate == 1.0 and isinstance(rate, float)
    assert parse_params(raw).train.epochs.__class__ is int  # ints stay ints


# `dvc exp run -S` parses each value with Hydra's grammar and writes it into params.yaml
# with ruamel.yaml (dvc.utils.hydra.apply_overrides): what it writes, the stages must read.
def _set(folder: Path, *overrides: str) -> Path:
    """A copy of params.yaml in `folder` with `overrides` set as `-S` sets them."""
    from dvc.utils.hydra import apply_overrides

    path = folder / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    apply_overrides(path, list(overrides))
    return path


@pytest.mark.parametrize(
    ("override", "section", "key", "value"),
    [
        ("train.learning_rate=5e-5", "train", "learning_rate", 5e-05),  # written `5e-05`
        ("train.learning_rate=1e-4", "train", "learning_rate", 1e-4),
        ("train.learning_rate=0.00001", "train", "learning_rate", 1e-05),  # written `1e-05`
        ("train.learning_rate=1E-6", "train", "learning_rate", 1e-06),
        ("train.learning_rate=2", "train", "learning_rate", 2.0),
        ("preprocess.validation_fraction=1e-1", "preprocess", "validation_fraction", 0.1),
        ("evaluate.min_accuracy=.95", "evaluate", "min_accuracy", 0.95),
        ("evaluate.push=false", "evaluate", "push", False),
        ("evaluate.push=False", "evaluate", "push", False),
        ("data.mirror=null", "data", "mirror", None),  # written `mirror:`
        ("train.seed=4294967295", "train", "seed", 2**32 - 1),
        (
            "preprocess.beam_args=['--direct_num_workers=2']",
            "preprocess",
            "beam_args",
            ["--direct_num_workers=2"],
        ),
    ],
)
def test_what_dvc_exp_run_set_writes_the_stages_read(tmp_path, override, section, key, value):
    read = getattr(getattr(load_params(_set(tmp_path, override)), section), key)
    assert read == value and type(read) is type(value)


@settings(max_examples=40)  # each writes a file through Hydra and ruamel.yaml
@given(
    st.floats(min_value=1e-12, max_value=10, exclude_min=True),
    st.sampled_from(["{!r}", "{:e}", "{:E}", "{:.3e}", "{:.12f}", "{:.1g}"]),
)
def test_any_learning_rate_dvc_takes_is_the_float_the_stages_read(tmp_path_factory, rate, spelling):
    text = spelling.format(rate)
    if not 0 < float(text) <= 10:  # rounded out of the key's range by the spelling
        return
    folder = tmp_path_factory.mktemp("set")
    read = load_params(_set(folder, f"train.learning_rate={text}")).train.learning_rate
    assert read == float(text) and isinstance(read, float)


@pytest.mark.parametrize("word", ["yes", "on", "no", "off", "y", "N", "Yes", "OFF"])
def test_a_yaml_1_1_boolean_says_to_write_true_or_false(tmp_path, word):
    with pytest.raises(PipelineError) as error:
        load_params(_set(tmp_path, f"evaluate.push={word}"))
    said = str(error.value)
    assert said == f"params: 'evaluate.push' is {word!r}, a string in YAML 1.2; write true or false"


def test_a_quoted_true_is_a_string_too(raw):
    raw["evaluate"]["push"] = "true"
    with pytest.raises(PipelineError, match=r"'evaluate.push' is 'true', a string.*true or false"):
        parse_params(raw)


def test_a_key_added_by_a_set_typo_says_how_to_put_params_yaml_back(tmp_path, monkeypatch):
    # DVC refuses `-S train.epoch=3` itself and suggests `-S +train.epoch=3`, which adds the
    # key to params.yaml; the stage refuses it, and the key stays for every later run.
    monkeypatch.chdir(tmp_path)  # as a stage runs: params.yaml, in the project's root
    with pytest.raises(PipelineError) as error:
        load_params(_set(Path(), "+train.epoch=3"))
    said = str(error.value)
    expected = "params: unknown key 'train.epoch' ('epochs'?); delete it from params.yaml "
    assert said == expected + "(-S +key adds it)"
    with pytest.raises(
        PipelineError, match=r"section 'trian'.*; delete it from params\.yaml \(-S \+key adds it\)$"
    ):
        load_params(_set(Path(), "+trian.epochs=3"))


def test_non_finite_numbers_in_the_file_are_refused(tmp_path):
    for text, shown_as in ((".nan", "nan"), ("-.inf", "-inf"), ("1e400", "inf")):
        path = tmp_path / "params.yaml"
        path.write_text((ROOT / "params.yaml").read_text().replace("0.001", text, 1))
        with pytest.raises(PipelineError, match=rf"'train.learning_rate' is {shown_as}; it must"):
            load_params(path)


# ---- every refusal the params make, word for word (pydantic decides; these are the words) ----

_ALLOWED = {  # each key's words, with a value it refuses
    "data.dataset": ("cifar10", "one of mnist, fashion_mnist, kmnist, folder"),
    "data.mirror": ("", "a folder path or null"),
    "data.folder": (None, "a folder path"),
    "data.image_size": (
        [28, 0],
        "as_found, most_common or [height, width] of 1 to 1024 pixels",
    ),
    "data.bad_files": ("ignore", "one of refuse, skip"),
    "preprocess.validation_fraction": (1, "a number strictly between 0 and 1"),
    "preprocess.seed": (-1, "an integer from 0 to 4294967295"),
    "preprocess.num_shards": ("many", "auto or an integer from 1 to 10000"),
    "preprocess.augment_copies": (101, "an integer from 0 to 100"),
    "preprocess.exclude": ("", "a file path"),
    "preprocess.runner": ("", "a Beam runner name"),
    "preprocess.beam_args": ("--x", "a list of --flag strings"),
    "preprocess.worker_start_timeout": (0, "an integer from 1 to 86400"),
    "validate.max_class_drift": (0, "a number in (0, 1]"),
    "validate.max_pixel_mean_drift": (1.5, "a number in (0, 1]"),
    "train.model": ("resnet", "one of mlp, cnn"),
    "train.hidden_layer_size": (8193, "an integer from 1 to 8192"),
    "train.learning_rate": (0, "a number in (0, 10]"),
    "train.batch_size": ("5", "an integer from 1 to 65536"),
    "train.epochs": (5.0, "an integer from 1 to 10000"),
    "train.min_steps": (True, "an integer from 0 to 1000000"),
    "train.buffer_size": (0, "an integer from 1 to 1000000"),
    "train.seed": (2**32, "an integer from 0 to 4294967295"),
    "train.cache_mib": (65537, "an integer from 0 to 65536"),
    "train.distribute": ("multi_worker", "one of none, mirrored"),
    "evaluate.min_accuracy": (float("nan"), "a number in [0, 1]"),
    "evaluate.max_accuracy_drop": (-0.1, "a number in [0, 1]"),
    "evaluate.push": (1, "true or false"),
}


def test_every_key_has_its_refusal_below(raw):
    assert list(_ALLOWED) == [f"{section}.{key}" for section in raw for key in raw[section]]


@pytest.mark.parametrize("key", _ALLOWED)
def test_each_key_refuses_in_its_own_words(raw, key):
    value, allowed = _ALLOWED[key]
    section, name = key.split(".")
    raw[section][name] = value
    expected = f"params: '{key}' is {value!r}; it must be {allowed}"
    with pytest.raises(PipelineError) as error:
        parse_params(raw)
    assert str(error.value) == expected
    with pytest.raises(PipelineError) as error:
        check_value(key, value)  # mnist-tune's check of a search space's values
    assert str(error.value) == expected
    del raw[section][name]
    with pytest.raises(PipelineError) as error:
        parse_params(raw)
    assert str(error.value) == f"params: missing key '{key}'; add it to params.yaml ({allowed})"


_SECTIONS_SAID = "data, preprocess, validate, train, evaluate"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: [raw], f"the file must be a mapping with sections {_SECTIONS_SAID}"),
        (
            lambda raw: raw | {"trian": {}},
            "unknown section 'trian' ('train'?); delete it from p.yaml (-S +key adds it)",
        ),
        (
            lambda raw: raw | {None: {}},
            f"unknown section None; known keys: {_SECTIONS_SAID}; delete it from p.yaml "
            "(-S +key adds it)",
        ),
        (
            lambda raw: raw.pop("validate") and raw,
            "missing section 'validate'; add it to params.yaml",
        ),
        (lambda raw: raw | {"train": [1]}, "'train' must be a mapping of keys, got [1]"),
        (
            lambda raw: raw | {"train": raw["train"] | {"epoch": 3}},
            "unknown key 'train.epoch' ('epochs'?); delete it from p.yaml (-S +key adds it)",
        ),
        (
            lambda raw: raw | {"validate": raw["validate"] | {"zzzz": 3}},
            "unknown key 'validate.zzzz'; known keys: max_class_drift, max_pixel_mean_drift; "
            "delete it from p.yaml (-S +key adds it)",
        ),
        (
            lambda raw: raw | {"evaluate": raw["evaluate"] | {"push": "yes"}},
            "'evaluate.push' is 'yes', a string in YAML 1.2; write true or false",
        ),
        # Checked as they always were: a section's keys in order, a missing one in its place.
        (
            lambda raw: (
                raw
                | {"train": {k: v for k, v in raw["train"].items() if k != "seed"}}
                | {"evaluate": raw["evaluate"] | {"push": 1}}
            ),
            "missing key 'train.seed'; add it to params.yaml (an integer from 0 to 4294967295)",
        ),
        (
            lambda raw: (
                raw
                | {"train": {k: v for k, v in raw["train"].items() if k != "seed"} | {"epochs": 0}}
            ),
            "'train.epochs' is 0; it must be an integer from 1 to 10000",
        ),
    ],
    ids=[
        "not a mapping",
        "unknown section",
        "unknown section, nothing close",
        "missing section",
        "section not a mapping",
        "unknown key",
        "unknown key, nothing close",
        "yaml 1.1 boolean",
        "missing key before a later section's value",
        "a value before a later missing key",
    ],
)
def test_each_refusal_of_the_file_is_one_line_in_its_words(raw, change, message):
    with pytest.raises(PipelineError) as error:
        parse_params(change(raw), file="p.yaml")
    assert str(error.value) == f"params: {message}"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("trian.epochs", "unknown section 'trian'; did you mean 'train'?"),
        ("x.y", f"unknown section 'x'; known keys: {_SECTIONS_SAID}"),
        ("train.epoch", "unknown key 'train.epoch'; did you mean 'epochs'?"),
        (
            "validate.zzzz",
            "unknown key 'validate.zzzz'; known keys: max_class_drift, max_pixel_mean_drift",
        ),
    ],
)
def test_a_key_mnist_tune_names_is_checked_in_these_words(key, message):
    with pytest.raises(PipelineError) as error:
        check_key(key)
    assert str(error.value) == f"params: {message}"


def test_check_value_says_the_type_a_key_takes():
    kinds = {
        key: check_value(key, value)
        for key, value in [
            ("train.epochs", 5),
            ("train.learning_rate", 1),
            ("train.model", "cnn"),
            ("evaluate.push", True),
            ("data.mirror", None),
            ("preprocess.num_shards", "auto"),
            ("preprocess.beam_args", []),
        ]
    }
    assert kinds == {
        "train.epochs": int,
        "train.learning_rate": float,
        "train.model": str,
        "evaluate.push": bool,
        "data.mirror": object,
        "preprocess.num_shards": object,
        "preprocess.beam_args": object,
    }


# The settings reader's bounds (pipeline.settings, on ruamel.yaml as DVC reads), as
# load_params says them.
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("train: {epochs: 5\n", "{path} is not valid YAML at line 2; fix the syntax"),
        ("a: 1\na: 2\n", "{path} sets 'a' twice (lines 1 and 2); keep one"),
        (b"a: \xff\n", "{path} is not UTF-8 text (byte 3); save it as UTF-8"),
        ("a: " + "[" * 40 + "]" * 40 + "\n", "{path} nests deeper than 32 levels; flatten it"),
        ("a: &x [*x]\n", "{path} holds an alias to itself; write it out"),
        (
            "a: [" + "1, " * 10_001 + "]\n",
            "{path} expands to more than 10000 values (YAML aliases?); write the values out",
        ),
        (
            "a: " + "1" * (1 << 20) + "\n",
            "{path} is larger than 1 MiB: not a settings file; restore it from git",
        ),
        (
            "a: !!float abc\n",
            '{path} holds a value YAML cannot build ("could not convert string to float: '
            "'abc'\"); fix or quote it",
        ),
    ],
    ids=["syntax", "twice", "utf-8", "deep", "self alias", "many values", "large", "unbuildable"],
)
def test_each_refusal_of_the_settings_reader_is_one_line_in_its_words(tmp_path, content, message):
    path = tmp_path / "params.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(PipelineError) as error:
        load_params(path)
    assert str(error.value) == "params: " + message.format(path=path)


def test_a_params_path_that_is_no_file_is_one_line_in_its_words(tmp_path):
    for path, message in [
        (tmp_path / "none.yaml", "{path} not found; run from the project root"),
        (tmp_path, "{path} is a folder, not a settings file; run from the project root"),
        (Path("/dev/null"), "{path} is not a regular file; point it at a YAML file"),
    ]:
        with pytest.raises(PipelineError) as error:
            load_params(path)
        assert str(error.value) == "params: " + message.format(path=path)

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import PipelineError
from pipeline.params import load_params, parse_params
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

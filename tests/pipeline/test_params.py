import copy

import pytest
import yaml

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
    with pytest.raises(PipelineError, match=r"unknown key 'train.epoch'; did you mean 'epochs'"):
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


def test_unknown_section_is_named(raw):
    raw["trian"] = raw.pop("train")
    with pytest.raises(PipelineError, match=r"unknown section 'trian'; did you mean 'train'"):
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

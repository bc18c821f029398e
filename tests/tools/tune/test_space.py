import pytest

from pipeline.errors import PipelineError
from pipeline.settings import read_settings
from tests.support import ROOT
from tools.tune.space import load_space, overrides, parse_space


def test_the_projects_space_is_one_every_trial_of_can_run():
    spec = load_space(ROOT / "tune.yaml")
    # Each bound and choice is a value params.yaml accepts for its key (parse_space checks
    # that); what is left to hold is that no dimension is empty and the study has a name.
    assert spec.study and spec.space
    for dimension in spec.space:
        assert dimension.choices or dimension.low < dimension.high


def _space(**space) -> dict:
    return {"study": "s", "seed": 1, "space": space}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_space(**{"train.learnig_rate": {"low": 0.1, "high": 1}}), "did you mean 'learning_rate'"),
        (_space(**{"train.epochs": {"low": 5, "high": 5}}), "empty range: low 5 is not below"),
        (_space(**{"train.epochs": {"choices": []}}), "non-empty list"),
        (
            _space(**{"train.batch_size": {"low": 0, "high": 5}}),
            "it must be an integer from 1 to 65536",
        ),
        (_space(**{"train.model": {"choices": ["mlp", "resnet"]}}), "one of mlp, cnn"),
        (_space(**{"train.model": {"low": 1, "high": 2}}), "cannot be 1"),
        (
            _space(**{"train.learning_rate": {"low": 0.1, "high": 1, "log": True, "step": 0.1}}),
            "no step",
        ),
        (_space(**{"train.epochs": {"low": 1, "high": 9, "step": 0.5}}), "must be an integer"),
        (_space(**{"train.epochs": {"low": 1, "high": 9, "lgo": True}}), "unknown keys ['lgo']"),
        (_space(**{"evaluate.push": {"choices": [True]}}), "a trial may not change evaluate.push"),
        (_space(), "'space' must map params keys"),
        ({"study": "no spaces", "seed": 1, "space": {}}, "'study' is 'no spaces'"),
        ({"study": "s", "seed": -1, "space": {}}, "'seed' is -1"),
        ({"study": "s", "seed": 1, "space": {}, "trials": 3}, "unknown key 'trials'"),
    ],
)
def test_a_bad_space_is_one_line_naming_the_problem(raw, message):
    with pytest.raises(PipelineError, match=r"tune\.yaml") as error:
        parse_space(raw)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_missing_or_broken_file_says_so(tmp_path):
    with pytest.raises(PipelineError, match="not found; run from the project root"):
        load_space(tmp_path / "tune.yaml")
    (tmp_path / "tune.yaml").write_text("study: [")
    with pytest.raises(PipelineError, match="is not valid YAML at line"):
        load_space(tmp_path / "tune.yaml")


def test_a_trials_params_become_overrides_dvc_reads_back_as_they_were(tmp_path):
    from dvc.utils.hydra import apply_overrides

    params = {"train.learning_rate": 1e-05, "train.epochs": 7, "train.model": "cnn", "x.y": False}
    assert overrides(params) == [
        "train.learning_rate=0.00001",
        "train.epochs=7",
        "train.model=cnn",
        "x.y=false",
    ]
    # As `dvc exp run -S` writes them (DVC writes `1e-05`), and as the stages read them back.
    path = tmp_path / "params.yaml"
    path.write_text("train: {learning_rate: 0.1, epochs: 1, model: mlp}\nx: {y: true}\n")
    apply_overrides(path, overrides(params))
    read = read_settings(path, prefix="", missing="")
    assert [read[k.split(".")[0]][k.split(".")[1]] for k in params] == list(params.values())
    assert isinstance(read["train"]["learning_rate"], float)


def test_bounds_are_read_as_dvc_reads_them(tmp_path):
    path = tmp_path / "tune.yaml"
    path.write_text("study: s\nseed: 1\nspace: {train.learning_rate: {low: 5e-5, high: 1E-2}}\n")
    (dimension,) = load_space(path).space
    assert (dimension.low, dimension.high, dimension.kind) == (5e-05, 0.01, float)
    path.write_text("study: s\nseed: 1\nspace: {train.learning_rate: {low: .nan, high: 1}}\n")
    with pytest.raises(PipelineError, match=r"'space.train.learning_rate' cannot be nan"):
        load_space(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # `$` would match before a final newline: the name must be the whole string.
        ({"study": "mlp\n", "seed": 1, "space": {}}, "'study' is 'mlp\\n'"),
        (
            _space(**{"train.learning_rate": {"low": 1e-4, "high": float("inf"), "log": True}}),
            "cannot be inf",
        ),
        (_space(**{"train.learning_rate": {"low": float("nan"), "high": 1}}), "cannot be nan"),
        (
            {"study": "s", "seed": 2**32, "space": {}},
            "'seed' is 4294967296; it must be an integer from 0",
        ),
        (
            _space(**{"train.epochs": {"low": 1, "high": 9, "step": True}}),
            "step True must be a number",
        ),
    ],
)
def test_values_that_would_fail_every_trial_are_refused(raw, message):
    with pytest.raises(PipelineError) as error:
        parse_space(raw)
    assert message in str(error.value)


def test_errors_name_the_file_they_are_in(tmp_path):
    (tmp_path / "my.yaml").write_text(
        "study: s\nseed: 1\nspace: {train.epochs: {low: 5, high: 5}}\n"
    )
    with pytest.raises(
        PipelineError, match=r"^.*my\.yaml: 'space\.train\.epochs' is an empty range"
    ):
        load_space(tmp_path / "my.yaml")

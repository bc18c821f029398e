import logging

import optuna
import pytest
import yaml

from components import tune, tune_report
from components.tune_space import Dimension, TuneSpec, load_space, overrides, parse_space
from pipeline.errors import PipelineError
from tests.support import ROOT


def test_the_projects_space_is_valid_and_in_order():
    spec = load_space(ROOT / "tune.yaml")
    assert [d.key for d in spec.space][:2] == ["train.model", "train.learning_rate"]
    rate = spec.space[1]
    assert (rate.kind, rate.log) == (float, True) and rate.low < rate.high


def _space(**space) -> dict:
    return {"study": "s", "seed": 1, "space": space}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_space(**{"train.learnig_rate": {"low": 0.1, "high": 1}}), "did you mean 'learning_rate'"),
        (_space(**{"train.epochs": {"low": 5, "high": 5}}), "empty range: low 5 is not below"),
        (_space(**{"train.epochs": {"choices": []}}), "non-empty list"),
        (_space(**{"train.batch_size": {"low": 0, "high": 5}}), "must be a positive integer"),
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


def test_a_trials_params_become_overrides_dvc_reads_back_as_they_were():
    params = {"train.learning_rate": 1e-05, "train.epochs": 7, "train.model": "cnn", "x.y": False}
    assert overrides(params) == [
        "train.learning_rate=0.00001",  # as 1e-05, YAML 1.1 would read a string
        "train.epochs=7",
        "train.model=cnn",
        "x.y=false",
    ]
    assert [yaml.safe_load(o.split("=", 1)[1]) for o in overrides(params)] == list(params.values())


def _study(trials: list[tuple[str, float, float]]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    distribution = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    for n, (name, val, test) in enumerate(trials):
        study.add_trial(
            optuna.trial.create_trial(
                params={"train.learning_rate": 1e-3 * (n + 1)},
                distributions={"train.learning_rate": distribution},
                value=val,
                user_attrs={"experiment": name, "test_accuracy": test},
            )
        )
    return study


def test_trials_are_ranked_on_validation_never_on_test(tmp_path):
    (tmp_path / "tune").mkdir()
    spec = TuneSpec("s", 1, (Dimension("train.learning_rate", float, 1e-4, 1e-1, log=True),))
    # s-001 has the best test accuracy and the worse validation accuracy: it must lose.
    study = _study([("s-000", 0.981, 0.970), ("s-001", 0.975, 0.990)])
    report = tune_report.report(study, spec, tmp_path)
    assert "best: s-000, test accuracy 0.9700" in report
    assert "promote it: dvc exp apply s-000 && dvc exp run -S evaluate.push=true" in report
    assert report.index("s-000") < report.index("s-001")
    assert "0.9900" not in report  # never shown, so never tempting
    assert max(map(len, report.splitlines())) <= 120
    assert (tmp_path / "tune" / "s-history.png").is_file()
    assert (tmp_path / "tune" / "s-importance.png").is_file()


def test_trials_are_named_after_the_study():
    assert tune.experiment_name(TuneSpec("mlp", 0, ()), 7) == "mlp-007"


def test_a_failed_trial_is_recorded_with_its_reason_and_the_study_goes_on(tmp_path, monkeypatch):
    # DVC's parallel runs can fail or lose an experiment: the study must not stop.
    def run(self, name: str, params: dict) -> dict:
        if name == "s-001":
            return {"error": "dvc exp run succeeded but kept no experiment named s-001"}
        return {"val_accuracy": params["train.learning_rate"], "test_accuracy": 0.5}

    monkeypatch.setattr(tune.Trials, "run", run)
    spec = TuneSpec("s", 1, (Dimension("train.learning_rate", float, 1e-4, 1e-1, log=True),))
    study = tune.run_study(spec, total=4, jobs=2, root=tmp_path)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3
    failed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "FAIL"]
    assert [t.user_attrs["error"] for t in failed] == [
        "dvc exp run succeeded but kept no experiment named s-001"
    ]
    # Resumed: the study already holds 4 finished trials, failed one included.
    assert len(tune.run_study(spec, total=4, jobs=2, root=tmp_path).get_trials()) == 4
    assert "failed s-001: dvc exp run succeeded but kept no" in tune_report.report(
        study, spec, tmp_path
    )


def test_a_report_of_a_study_never_run_says_so_and_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tune.yaml").write_text((ROOT / "tune.yaml").read_text())
    monkeypatch.setattr(logging.root, "handlers", [])
    assert tune.main(["--report"]) == 1
    assert "no study 'mlp' yet; run mnist-tune --trials N first" in capsys.readouterr().err
    assert not (tmp_path / "tune").exists()

import optuna

from tools.tune import report, study
from tools.tune.space import Dimension, TuneSpec


def test_a_failed_trial_is_recorded_with_its_reason_and_the_study_goes_on(tmp_path, monkeypatch):
    # DVC's parallel runs can fail or lose an experiment: the study must not stop.
    def run(self, name: str, params: dict) -> study.TrialResult | str:
        if name == "s-001":
            return "dvc exp run succeeded but kept no experiment named s-001"
        return study.TrialResult(val_accuracy=params["train.learning_rate"], test_accuracy=0.5)

    monkeypatch.setattr(study.Trials, "run", run)
    spec = TuneSpec("s", 1, (Dimension("train.learning_rate", float, 1e-4, 1e-1, log=True),))
    ran = study.run_study(spec, total=4, jobs=2, root=tmp_path)
    states = [t.state for t in ran.get_trials(deepcopy=False)]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3
    trials = ran.get_trials(deepcopy=False)
    assert [t.user_attrs["experiment"] for t in trials] == [f"s-00{n}" for n in range(4)]
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert [t.user_attrs["error"] for t in failed] == [
        "dvc exp run succeeded but kept no experiment named s-001"
    ]
    # Resumed: the study already holds 4 finished trials, failed one included.
    assert len(study.run_study(spec, total=4, jobs=2, root=tmp_path).get_trials()) == 4
    assert "failed s-001: dvc exp run succeeded but kept no" in report.render(ran, spec, tmp_path)

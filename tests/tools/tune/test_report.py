import optuna
import pytest

from pipeline.errors import PipelineError
from tools.tune import report
from tools.tune.space import Dimension, TuneSpec
from tools.tune.study import TrialNotes


def _study(trials: list[tuple[str, float, float]]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    distribution = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    for n, (name, val, test) in enumerate(trials):
        study.add_trial(
            optuna.trial.create_trial(
                params={"train.learning_rate": 1e-3 * (n + 1)},
                distributions={"train.learning_rate": distribution},
                value=val,
                user_attrs=TrialNotes(name, test_accuracy=test).to_json(),
            )
        )
    return study


def test_trials_are_ranked_on_validation_never_on_test(tmp_path):
    (tmp_path / "tune").mkdir()
    spec = TuneSpec("s", 1, (Dimension("train.learning_rate", float, 1e-4, 1e-1, log=True),))
    # s-001 has the best test accuracy and the worse validation accuracy: it must lose.
    study = _study([("s-000", 0.981, 0.970), ("s-001", 0.975, 0.990)])
    rendered = report.render(study, spec, tmp_path)
    assert "best: s-000, test accuracy 0.9700" in rendered
    assert "promote it: dvc exp apply s-000 && dvc exp run -S evaluate.push=true" in rendered
    assert rendered.index("s-000") < rendered.index("s-001")
    assert "0.9900" not in rendered  # never shown, so never tempting
    assert max(map(len, rendered.splitlines())) <= 120
    assert (tmp_path / "tune" / "s-history.png").is_file()
    assert (tmp_path / "tune" / "s-importance.png").is_file()
    # A shared study's best may have run in another clone: pulled from where it was pushed.
    shared = report.render(study, spec, tmp_path, pull_from="origin")
    assert "promote it: dvc exp pull origin s-000 && dvc exp apply s-000 && dvc exp run" in shared


def test_a_trial_noted_in_another_layout_is_refused_in_one_line(tmp_path):
    (tmp_path / "tune").mkdir()
    spec = TuneSpec("s", 1, (Dimension("train.learning_rate", float, 1e-4, 1e-1, log=True),))
    study = _study([("s-000", 0.981, 0.970)])
    study.get_trials(deepcopy=False)[0].user_attrs["test_acc"] = 0.97  # a renamed field
    with pytest.raises(PipelineError, match=r"trial 0 of the study holds notes .*test_acc"):
        report.render(study, spec, tmp_path)


def test_trials_noted_partly_or_not_at_all_are_still_reported(tmp_path):
    # A trial stopped before it was noted, and one noted by an earlier mnist-tune (which
    # wrote `error` and `test_accuracy` only once known), read with the defaults.
    (tmp_path / "tune").mkdir()
    spec = TuneSpec("s", 1, (Dimension("train.learning_rate", float, 1e-4, 1e-1, log=True),))
    study = _study([("s-000", 0.981, 0.970)])
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    failed = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL)
    failed.user_attrs["experiment"] = "s-002"
    study.add_trial(failed)
    rendered = report.render(study, spec, tmp_path)
    assert "failed trial 1: left running by an mnist-tune that was killed" in rendered
    assert "failed s-002: left running by an mnist-tune that was killed" in rendered
    assert "best: s-000, test accuracy 0.9700" in rendered


def test_plotting_a_study_of_few_trials_prints_no_warning_of_optunas(tmp_path, recwarn):
    # Two trials with the same value: Optuna warns that their importances come out equal,
    # a line of its source's path wider than 120 columns in mnist-tune's output.
    (tmp_path / "tune").mkdir()
    spec = TuneSpec("s", 1, (Dimension("train.learning_rate", float, 1e-4, 1e-1, log=True),))
    report.plot(_study([("s-000", 0.98, 0.97), ("s-001", 0.98, 0.97)]), spec, tmp_path)
    assert [str(w.message) for w in recwarn] == []

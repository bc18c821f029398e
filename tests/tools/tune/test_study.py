import optuna

from tools.tune import report, study
from tools.tune.space import Dimension, TuneSpec

SPEC = TuneSpec(
    "s",
    1,
    (
        Dimension("train.learning_rate", float, 1e-4, 1e-1, log=True),
        Dimension("train.epochs", int, 1, 50),
    ),
)


def _fake_trials(monkeypatch, failing: tuple[str, ...] = ()) -> list[dict]:
    """Trials that score their learning rate, without DVC; returns the params each ran."""
    ran = []

    def run(self, name: str, params: dict) -> study.TrialResult | str:
        ran.append(params)
        if name in failing:
            return f"dvc exp run succeeded but kept no experiment named {name}"
        return study.TrialResult(val_accuracy=params["train.learning_rate"], test_accuracy=0.5)

    monkeypatch.setattr(study.Trials, "run", run)
    return ran


def test_a_failed_trial_is_recorded_with_its_reason_and_the_next_run_replaces_it(
    tmp_path, monkeypatch
):
    # DVC's parallel runs can fail or lose an experiment: the study must not stop.
    _fake_trials(monkeypatch, failing=("s-001",))
    run = study.run_study(SPEC, total=4, jobs=2, root=tmp_path)
    assert (run.completed, run.failed) == (3, 1)
    trials = run.study.get_trials(deepcopy=False)
    assert [study.TrialNotes.of(t).experiment for t in trials] == [f"s-00{n}" for n in range(4)]
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert [study.TrialNotes.of(t).error for t in failed] == [
        "dvc exp run succeeded but kept no experiment named s-001"
    ]
    # Resumed: one trial makes up the 4 complete ones; then there is nothing to run.
    assert study.run_study(SPEC, total=4, jobs=2, root=tmp_path).completed == 1
    assert study.run_study(SPEC, total=4, jobs=2, root=tmp_path).completed == 0
    assert "failed s-001: dvc exp run succeeded but kept no" in report.render(
        run.study, SPEC, tmp_path
    )


def test_a_resumed_study_proposes_what_an_uninterrupted_one_would(tmp_path, monkeypatch):
    # Inside TPE's random start-up trials, where a sampler seeded anew on every run would
    # replay the first run's trials one for one.
    ran = _fake_trials(monkeypatch)
    for folder in ("whole", "resumed"):
        (tmp_path / folder).mkdir()
    study.run_study(SPEC, total=4, jobs=1, root=tmp_path / "whole")
    whole, ran[:] = list(ran), []
    for total in (1, 2, 4):  # interrupted twice
        study.run_study(SPEC, total=total, jobs=1, root=tmp_path / "resumed")
    assert ran == whole
    assert len({tuple(params.items()) for params in whole}) == 4  # never the same trial twice


def test_a_trial_left_running_by_a_killed_run_is_failed_on_the_next(tmp_path, monkeypatch):
    _fake_trials(monkeypatch)
    left = study.run_study(SPEC, total=1, jobs=1, root=tmp_path).study
    left.ask()  # what a killed mnist-tune leaves: a trial that will never end
    run = study.run_study(SPEC, total=2, jobs=1, root=tmp_path)
    states = [t.state for t in run.study.get_trials(deepcopy=False)]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL,
                      optuna.trial.TrialState.COMPLETE]  # fmt: skip


def test_a_trials_lines_fit_120_columns_with_its_floats_rounded():
    from pipeline import logs
    from tests.support import ROOT
    from tools.tune.space import load_space

    spec = load_space(ROOT / "tune.yaml")  # the project's own space: six keys
    spec = TuneSpec(spec.study, spec.seed, spec.space * 2)  # and as many again, to wrap
    params = {d.key: (0.0012345678901234567 if d.kind is float else d.choices[-1] if d.choices
                      else int(d.high)) for d in spec.space}  # fmt: skip
    lines = study.proposed(spec, "mlp-123", params)
    assert len(lines) > 1 and all(line.startswith("trial mlp-123: ") for line in lines)
    assert all(len(line) <= logs.message_room(study.logger, 20) for line in lines), lines
    said = " ".join(lines)
    assert "learning_rate=0.001235" in said and "model=" not in said  # a fixed choice
    assert "augment_copies=2" in said


def test_a_failed_trials_line_fits_120_columns(tmp_path, monkeypatch, caplog):
    from pipeline import logs

    def run(self, name: str, params: dict) -> str:
        return "dvc exp run failed: " + "a long reason " * 30

    monkeypatch.setattr(study.Trials, "run", run)
    with caplog.at_level("INFO", logger=study.logger.name):
        study.run_study(SPEC, total=1, jobs=1, root=tmp_path)
    lines = [(r.getMessage(), r.levelno) for r in caplog.records if r.name == study.logger.name]
    assert any(line.startswith("trial s-000 failed (1/1 done") for line, _ in lines)
    assert all(len(line) <= logs.message_room(study.logger, level) for line, level in lines)

"""bench.tune_shared's reading of a study: its best, and which clone ran each trial."""

from __future__ import annotations

import optuna
import pytest

from bench import tune_shared


def _study(tmp_path, workers: list[str | None], values: list[float]) -> str:
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(study_name=tune_shared.STUDY, storage=storage, direction="maximize")
    for worker, value in zip(workers, values, strict=True):
        trial = study.ask()
        if worker is not None:
            study._storage.set_trial_system_attr(trial._trial_id, tune_shared.WORKER, worker)
        study.tell(trial, value)
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)  # counted, never complete
    return storage


def test_each_complete_trial_is_counted_for_the_clone_its_worker_names(tmp_path):
    clones = [tmp_path / "one", tmp_path / "two"]
    workers = [f"host:{clones[n].resolve()}" for n in (0, 1, 1)]
    outcome = tune_shared._outcome(_study(tmp_path, workers, [0.4, 0.6, 0.5]), clones)
    assert outcome == {"best_val_accuracy": 0.6, "trials": 4, "complete": 3, "by_clone": [1, 2]}


def test_a_sqlite_study_names_no_worker_so_its_one_clone_ran_every_trial(tmp_path):
    outcome = tune_shared._outcome(_study(tmp_path, [None, None], [0.3, 0.2]), [tmp_path / "c"])
    assert outcome["by_clone"] == [2] and outcome["best_val_accuracy"] == pytest.approx(0.3)


def test_the_table_names_each_way_and_its_numbers():
    row = {"storage": "PostgreSQL", "workers": 2, "wall_s": 129.4, "best_val_accuracy": 0.42857,
           "trials": 6, "complete": 6, "by_clone": [3, 3], "load_before": 2.04}  # fmt: skip
    results = {"study": {"trials": 6}, "rows": [row], "cpus": 2, "seconds": 600}
    [line] = [ln for ln in tune_shared.table(results).splitlines() if "PostgreSQL" in ln]
    assert line == "| PostgreSQL, 2 workers | 129 | 0.4286 | 6 of 6 | 3 + 3 | 2.0 |"

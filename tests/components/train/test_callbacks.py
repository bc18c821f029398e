import json

import pytest

from components.train import callbacks


def test_the_steady_rate_leaves_out_the_first_epoch(monkeypatch):
    ticks = iter([0.0, 10.0, 10.0, 11.0, 11.0, 13.0, 13.0, 14.0])  # epochs of 10, 1, 2, 1 s
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(ticks))
    logger = callbacks.EpochLogger()
    logger.set_params({"steps": 100, "epochs": 4})
    for epoch in range(4):
        logger.on_epoch_begin(epoch)
        logger.on_epoch_end(epoch, {"loss": 1.0, "accuracy": 0.5})
    assert logger.rates == [10.0, 100.0, 50.0, 100.0]
    assert logger.steady_rate() == 100.0  # the median of the last three


def test_live_metrics_keep_train_and_val_and_drop_the_step(tmp_path):
    with callbacks.live_callbacks(tmp_path / "live") as (live,):
        for epoch, accuracy in enumerate((0.5, 0.75)):
            logs = {"loss": 1 - accuracy, "accuracy": accuracy, "val_loss": 1.0}
            live.on_epoch_end(epoch, {**logs, "val_accuracy": accuracy - 0.25})
        live.on_train_end()
        assert not (tmp_path / "live").exists()  # until the block ends, only its temp
    summary = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert summary == {
        "train": {"accuracy": 0.75, "loss": 0.25},
        "val": {"accuracy": 0.5, "loss": 1.0},
    }


def test_a_failed_run_leaves_the_previous_live_folder(tmp_path):
    (tmp_path / "live").mkdir()
    (tmp_path / "live" / "metrics.json").write_text("the last run's")
    with pytest.raises(RuntimeError), callbacks.live_callbacks(tmp_path / "live"):
        raise RuntimeError("killed mid-training")
    assert (tmp_path / "live" / "metrics.json").read_text() == "the last run's"
    assert [p.name for p in tmp_path.iterdir()] == ["live"]

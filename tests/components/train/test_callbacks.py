import json

import keras
import numpy as np
import pytest

from components.train import callbacks
from pipeline.errors import PipelineError
from pipeline.logs import message_room


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


def test_an_epoch_line_fits_120_columns_at_the_largest_params_allow(monkeypatch, caplog):
    ticks = iter([0.0, 9999.9])
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(ticks))
    logger = callbacks.EpochLogger()
    logger.set_params({"steps": 999_999_990, "epochs": 10_000})  # 99,999 steps/s
    logs = {"loss": 1234.56789, "accuracy": 1.0, "val_loss": 0.000123456, "val_accuracy": 1.0}
    logger.on_epoch_begin(9_999)
    with caplog.at_level("INFO", logger=callbacks.logger.name):
        logger.on_epoch_end(9_999, logs)
    [line] = [record.getMessage() for record in caplog.records]
    assert line.startswith("epoch 10000/10000: loss 1235 acc 1.0000, val loss 0.0001235 ")
    assert len(line) <= message_room(callbacks.logger, caplog.records[0].levelno), line


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


def _fit(x: np.ndarray) -> keras.callbacks.History:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    stop = callbacks.StopOnDivergence(0.5)
    return model.fit(x, np.zeros(len(x)), epochs=3, verbose=0, callbacks=[stop])


def test_a_run_whose_loss_is_not_finite_fails_naming_the_learning_rate():
    with pytest.raises(PipelineError, match=r"loss is nan after epoch 1: .*learning_rate \(0\.5\)"):
        _fit(np.array([[np.inf, 1.0]] * 4, np.float32))  # as a diverged model's weights do
    assert len(_fit(np.ones((4, 2), np.float32)).history["loss"]) == 3  # a finite loss goes on

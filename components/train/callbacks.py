"""Train's Keras callbacks: one log line per epoch, and per-epoch metrics with DVCLive.

DVCLive writes into a temp folder that replaces the live folder only when training ends,
so the previous run's metrics and plots stay until a new complete set replaces them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import keras
from dvclive import Live

from pipeline import outputs
from pipeline.errors import PipelineError
from pipeline.reports import TrainingMetrics

logger = logging.getLogger(__package__)


class EpochLogger(keras.callbacks.Callback):
    """Logs each epoch in one line: its metrics, wall time and steps per second.

    Keras's own progress output is off, so an epoch is not reported twice.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self._start
        steps = self.params["steps"]  # batch callbacks come once per execution, not per step
        self.rates.append(steps / seconds)
        logs = logs or {}
        logger.info(
            "epoch %d/%d: loss %.4g acc %.4f, val loss %.4g acc %.4f, %.1f s (%.0f steps/s)",
            epoch + 1,
            self.params["epochs"],
            *(
                logs.get(name, float("nan"))
                for name in ("loss", "accuracy", "val_loss", "val_accuracy")
            ),
            seconds,
            self.rates[-1],
        )

    def steady_rate(self) -> float:
        """Median steps/s after the first epoch, which pays for tracing and filling caches."""
        later = self.rates[1:] or self.rates
        return statistics.median(later) if later else float("nan")


class StopOnDivergence(keras.callbacks.Callback):
    """Fails the run as soon as an epoch's loss is not a finite number: a model that
    diverged is no model to save, and its NaN metrics no metrics to log."""

    def __init__(self, learning_rate: float) -> None:
        super().__init__()
        self.learning_rate = learning_rate

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss", 0.0)
        if not math.isfinite(loss):
            raise PipelineError(
                f"train: the loss is {loss} after epoch {epoch + 1}: training diverged; lower "
                f"train.learning_rate ({self.learning_rate})"
            )


class LiveMetrics(keras.callbacks.Callback):
    """Logs each epoch's loss and accuracy with DVCLive as `train/*` and `val/*`.

    DVCLive's own Keras callback names the validation split `eval`; `val` is Keras's name
    and keeps `dvc metrics show` within 120 columns.
    """

    def __init__(self, live: Live) -> None:
        super().__init__()
        self.live = live

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name, value in sorted((logs or {}).items()):
            split, metric = ("val", name[4:]) if name.startswith("val_") else ("train", name)
            if metric in ("loss", "accuracy"):
                self.live.log_metric(f"{split}/{metric}", float(value))
        self.live.next_step()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.live.end()
        # DVCLive's summary carries `step`, the last epoch's index: train.epochs - 1, a
        # param already, and a column `dvc metrics show` does without.
        path = Path(self.live.metrics_file)
        summary = {k: v for k, v in json.loads(path.read_text()).items() if k != "step"}
        metrics = TrainingMetrics.from_json(summary)
        path.write_text(json.dumps(metrics.to_json(), indent=4) + "\n")


@contextlib.contextmanager
def live_callbacks(live_dir: str | Path) -> Iterator[list[keras.callbacks.Callback]]:
    """DVCLive logging into a temp folder that replaces `live_dir` when the block ends."""
    with outputs.atomic_output(live_dir, exclusive=True) as temp:
        # The pipeline's dvc.yaml declares the metrics and plots; DVCLive must not edit it.
        live = Live(dir=str(temp), save_dvc_exp=False, dvcyaml=None)
        yield [LiveMetrics(live)]

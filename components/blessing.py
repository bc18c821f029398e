"""Blessing and push, the TFX way: is the trained model good enough to serve?

Like TFX's Evaluator, the evaluate stage holds the candidate (the model just trained) to
two thresholds:

- value: its test accuracy must be at least `evaluate.min_accuracy`;
- change: it must not be worse than the baseline, the model serving now (the latest version
  under the serving folder), by more than `evaluate.max_accuracy_drop`. The baseline is
  scored on the same test split in the same run. With no baseline only the value threshold
  applies, as in TFX.

Like TFX's Pusher, a blessed model is pushed as the next version (components.export),
unless it is the very model serving already or `evaluate.push` is false (tuning trials);
an unblessed one is recorded and nothing is pushed. Either way the stage succeeds: whether
a model is good enough is a result, not an error. Runs that share a serving folder take
turns through a lock on it, so parallel experiments (`dvc queue start -j 2`) compare
against, and push after, each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keras

from components import export
from pipeline import io

logger = logging.getLogger(__name__)

Metrics = dict[str, float]  # {"accuracy", "loss"} on the test split


@contextlib.contextmanager
def push_lock(serving_dir: Path) -> Iterator[None]:
    """Holds `serving_dir`'s lock: one run at a time reads the baseline and pushes.

    The lock is on the folder itself, so the serving folder holds versions and nothing else.
    """
    serving_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(serving_dir, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # released when the descriptor is closed
        yield
    finally:
        os.close(descriptor)


def decide(
    candidate: Metrics,
    baseline: Metrics | None,
    *,
    baseline_version: int | None = None,
    min_accuracy: float,
    max_accuracy_drop: float,
) -> tuple[bool, str, str]:
    """TFX's two checks, value then change.

    Returns:
        (blessed, the check that decided: "value" or "change", why in words).
    """
    accuracy = candidate["accuracy"]
    value = f"test accuracy {accuracy:.4f} %s evaluate.min_accuracy {min_accuracy}"
    if accuracy < min_accuracy:
        return False, "value", value % "<"
    if baseline is None:
        return True, "value", value % ">="
    drop = baseline["accuracy"] - accuracy
    versus = f"serving version {baseline_version}'s {baseline['accuracy']:.4f}"
    # Accuracies are multiples of 1/examples; the slack only absorbs float rounding, so that
    # 0.99 - 0.98 is not "more than" a margin of 0.01.
    if drop > max_accuracy_drop + 1e-9:
        return (
            False,
            "change",
            f"test accuracy {accuracy:.4f} is {drop:.4f} below {versus}, more than "
            f"evaluate.max_accuracy_drop {max_accuracy_drop}",
        )
    return True, "change", f"test accuracy {accuracy:.4f} against {versus}"


def _baseline(serving_dir: Path, score_version: Callable[[Path], Metrics]) -> dict | None:
    """The model serving now, the latest version, scored; None if nothing serves yet."""
    latest = io.latest_version(serving_dir)
    if latest is None:
        return None
    return {
        "version": int(latest.name),
        "model_sha256": export.push_record(latest).get("model_sha256"),
        "test": score_version(latest),
    }


def _push(model: keras.Model, sha256: str, candidate: Metrics, serving_dir: Path) -> int:
    version = export.push(model, serving_dir, {"model_sha256": sha256, "test": candidate})
    return int(version.name)


def bless_and_push(
    *,
    model: keras.Model,
    model_path: str | Path,
    candidate: Metrics,
    score_version: Callable[[Path], Metrics],
    serving_dir: str | Path,
    min_accuracy: float,
    max_accuracy_drop: float,
    push: bool = True,
) -> dict[str, Any]:
    """Blesses the candidate against the serving baseline; pushes it if blessed.

    Args:
        model, model_path: the candidate, loaded, and its `.keras` file (its identity).
        candidate: its test metrics.
        score_version: scores a pushed version folder on the same test split.
        serving_dir: the serving base folder (TF Serving's layout).
        push: whether a blessed candidate is pushed (`evaluate.push`).

    Returns:
        The blessing: the verdict, the check that decided and why, both models' test
        metrics and identities, the thresholds, and the version pushed (or None).
    """
    serving_dir = Path(serving_dir)
    sha256 = export.file_sha256(model_path)
    with push_lock(serving_dir):
        export.remove_unfinished_pushes(serving_dir)
        baseline = _baseline(serving_dir, score_version)
        blessed, check, reason = decide(
            candidate,
            baseline and baseline["test"],
            baseline_version=baseline and baseline["version"],
            min_accuracy=min_accuracy,
            max_accuracy_drop=max_accuracy_drop,
        )
        serving = baseline and baseline["model_sha256"] == sha256
        pushed = (
            _push(model, sha256, candidate, serving_dir)
            if blessed and push and not serving
            else None
        )
    _log(blessed, reason, baseline, pushed, serving_dir, push)
    return {
        "blessed": blessed,
        "check": check,
        "reason": reason,
        "candidate": {"model_sha256": sha256, "test": candidate},
        "baseline": baseline,
        "thresholds": {"min_accuracy": min_accuracy, "max_accuracy_drop": max_accuracy_drop},
        "pushed_version": pushed,
    }


def _log(
    blessed: bool, reason: str, baseline: dict | None, pushed: int | None, to: Path, push: bool
) -> None:
    if not blessed:
        kept = f"version {baseline['version']} keeps serving" if baseline else "nothing pushed"
        logger.warning("NOT BLESSED: %s; %s", reason, kept)
    elif pushed is not None:
        logger.info("blessed (%s); pushed as version %d to %s", reason, pushed, to)
    elif not push:
        logger.info("blessed (%s); not pushed: evaluate.push is false", reason)
    else:
        logger.info("blessed (%s); it serves as version %d already", reason, baseline["version"])

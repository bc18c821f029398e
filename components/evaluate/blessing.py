"""Blessing and push, the TFX way: is the trained model good enough to serve?

Like TFX's Evaluator, the evaluate stage holds the candidate (the model just trained) to
two thresholds:

- value: its test accuracy must be at least `evaluate.min_accuracy`;
- change: it must not be worse than the baseline, the model serving now (the latest version
  under the serving folder), by more than `evaluate.max_accuracy_drop`. The baseline is
  scored on the same test split in the same run. With no baseline only the value threshold
  applies, as in TFX.

Like TFX's Pusher, a blessed model is pushed as the next version (components.evaluate.export),
unless it is the very model serving already or `evaluate.push` is false (tuning trials);
an unblessed one is recorded and nothing is pushed. Blessed or not, the stage succeeds:
whether a model is good enough is a result, not an error. Like TFX's InfraValidator, the
staged version is loaded as mnist-serve loads it and must answer scoring's classes before
it is pushed (components.evaluate.infra); one that does not fails the stage, a fault of the
push as a full disk is. Runs that share a serving folder take turns through a lock on it,
so parallel experiments (`dvc queue start -j 2`) compare against, and push after, each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import keras

from components.evaluate import export, schemas, serving
from components.evaluate.infra import Probe
from pipeline import logs
from pipeline.errors import fitted
from pipeline.params import EvaluateParams
from pipeline.reports import Baseline, Blessing, Candidate, Score, Thresholds
from pipeline.schema import Schema

logger = logging.getLogger(__package__)


def decide(
    candidate: Score, baseline: Baseline | None, thresholds: Thresholds
) -> tuple[bool, str, str]:
    """TFX's two checks, value then change.

    Returns:
        (blessed, the check that decided: "value" or "change", why in words).
    """
    accuracy, min_accuracy = candidate.accuracy, thresholds.min_accuracy
    value = f"test accuracy {accuracy:.4f} %s evaluate.min_accuracy {min_accuracy}"
    if accuracy < min_accuracy:
        return False, "value", value % "<"
    if baseline is None:
        return True, "value", value % ">="
    drop = baseline.test.accuracy - accuracy
    versus = f"version {baseline.version}'s {baseline.test.accuracy:.4f}"
    # Accuracies are multiples of 1/examples; the slack only absorbs float rounding, so that
    # 0.99 - 0.98 is not "more than" a margin of 0.01.
    if drop > thresholds.max_accuracy_drop + 1e-9:
        return (
            False,
            "change",
            f"test accuracy {accuracy:.4f} < {versus} - evaluate.max_accuracy_drop "
            f"{thresholds.max_accuracy_drop}",
        )
    return True, "change", f"test accuracy {accuracy:.4f} against {versus}"


def _baseline(
    serving_dir: Path, score_version: Callable[[Path], Score], data: Schema
) -> tuple[Baseline | None, int | None]:
    """The model serving now, the latest version, scored; None if nothing serves yet, or
    what serves takes other images or gives other classes (a model of another dataset),
    so no score of it on this test split means anything.

    Returns:
        (the baseline, or None; the number of the version serving another dataset's model,
        which a push replaces, or None).
    """
    latest = serving.serving_version(serving_dir)
    if latest is None:
        return None, None
    number = serving.number(latest)
    theirs = serving.read_version_schema(latest)
    if said := schemas.other_data(f"version {number}", theirs, data):
        logger.warning("%s", said)
        logger.warning(
            "so evaluate.min_accuracy alone judges the candidate; if blessed, it replaces "
            "version %d",
            number,
        )
        return None, number
    record = serving.read_push_record(latest)
    return Baseline(number, record and record.model_sha256, score_version(latest)), None


def bless_and_push(
    *,
    model: keras.Model,
    model_path: str | Path,
    candidate: Score,
    score_version: Callable[[Path], Score],
    serving_dir: str | Path,
    params: EvaluateParams,
    data: Schema,
    probe: Probe | None = None,
) -> Blessing:
    """Blesses the candidate against the serving baseline; pushes it if blessed.

    Args:
        model, model_path: the candidate, loaded, and its `.keras` file (its identity).
        candidate: its test scores.
        score_version: scores a pushed version folder on the same test split.
        serving_dir: the serving base folder (TF Serving's layout).
        params: the thresholds, and whether a blessed candidate is pushed.
        data: the dataset's schema, which the pushed version carries.
        probe: test examples and the classes scoring gave them, which the staged version
            must answer before it is pushed (components.evaluate.infra).

    Returns:
        The blessing: the verdict, the check that decided and why, both models' test
        scores and identities, the thresholds, and the version pushed (or None).

    Raises:
        PipelineError: if the blessed candidate's staged version fails InfraValidator: it
            is not pushed, and what serves keeps serving.
    """
    serving_dir = Path(serving_dir)
    thresholds = Thresholds(params.min_accuracy, params.max_accuracy_drop)
    identity = Candidate(serving.file_sha256(model_path), candidate)
    with serving.push_lock(serving_dir):
        serving.remove_unfinished_pushes(serving_dir)
        baseline, foreign = _baseline(serving_dir, score_version, data)
        blessed, check, reason = decide(candidate, baseline, thresholds)
        serving_already = baseline is not None and baseline.model_sha256 == identity.model_sha256
        pushed = None
        if blessed and params.push and not serving_already:
            record = serving.PushRecord(identity.model_sha256, candidate)
            pushed = serving.number(export.push(model, serving_dir, record, data, probe))
    blessing = Blessing(blessed, check, reason, identity, baseline, thresholds, pushed)
    _log(blessing, serving_dir, params.push, foreign)
    return blessing


def _log(blessing: Blessing, to: Path, push: bool, foreign: int | None) -> None:
    """The verdict's one line; `foreign` is the version serving another dataset's model
    (the lines before it said so, and that a push replaces it). Each verdict fits a line of
    120 columns: the change check's reason names the version that keeps serving, and a
    pushed version is named by its folder."""
    baseline = blessing.baseline
    if not blessing.blessed:
        serving_now = baseline.version if baseline else foreign
        kept = f"version {serving_now}" if serving_now is not None else None
        if blessing.check == "value":
            logger.warning(
                "NOT BLESSED: %s; %s",
                blessing.reason,
                f"{kept} keeps serving" if kept else "nothing pushed",
            )
        else:
            logger.warning("NOT BLESSED: %s", blessing.reason)
    elif blessing.pushed_version is not None:
        said = f"blessed ({blessing.reason}); pushed to "
        folder = to / str(blessing.pushed_version)
        logger.info("%s", fitted(said, folder, "", logs.message_room(logger, logging.INFO)))
    elif not push:
        logger.info("blessed (%s); not pushed: evaluate.push is false", blessing.reason)
    else:
        logger.info(
            "blessed (%s); it serves as version %d already", blessing.reason, baseline.version
        )

"""The model mnist-predict asks: the served version's TFLite model on LiteRT, so TensorFlow
is never imported; a version pushed before the TFLite export, through its SavedModel."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from components.evaluate import lite, serving
from pipeline import artifacts, cli
from pipeline.errors import PipelineError

logger = logging.getLogger(__package__)

Classify = Callable[[np.ndarray], np.ndarray]  # uint8 [N, 28, 28] -> probabilities [N, 10]


def resolve(given: str | None) -> Path:
    """The model `--model` names, or the project's served version when it names none: a
    .tflite file, a SavedModel (version) folder, or a serving folder's latest version.

    Raises:
        PipelineError: saying where no model is, and the command that puts one there.
    """
    if given is None:
        base = Path(artifacts.paths["serving"])
        version = serving.serving_version(base)
        if version is None:
            raise PipelineError(
                f"no model is served from {base} yet: `dvc repro` pushes a blessed one there, "
                "or, in a clone with the results pulled (`dvc pull`), `mnist-push` serves it"
            )
        return version
    path = Path(given)
    if path.suffix == ".tflite" and path.is_file():
        return path
    if (path / serving.SAVED_MODEL).is_file():
        return path
    if not path.exists():
        raise PipelineError(f"--model {given}: no such file or folder")
    version = serving.serving_version(path)
    if version is None:
        raise PipelineError(
            f"--model {given}: neither a .tflite file, a SavedModel, nor a serving folder of "
            "numbered versions"
        )
    return version


def load(model: Path) -> Classify:
    """The classifier of a resolved model: LiteRT where there is a TFLite model.

    Raises:
        PipelineError: for a model that cannot be loaded.
    """
    tflite = model if model.suffix == ".tflite" else model / lite.TFLITE_MODEL
    if tflite.is_file():
        with cli.quiet_native_startup():
            return lite.LiteModel(tflite)
    logger.warning(
        "%s has no %s: asking its SavedModel, through TensorFlow", model, lite.TFLITE_MODEL
    )
    with cli.quiet_native_startup():
        import tensorflow as tf
    signature = serving.load_signature(model)
    return lambda images: signature(images=tf.constant(images))["probabilities"].numpy()

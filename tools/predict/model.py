"""The model mnist-predict asks: the served version's TFLite model on LiteRT, so TensorFlow
is never imported (a version pushed before the TFLite export, through its SavedModel), and
the schema it was trained on: the images it takes and the names of its classes."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from components.evaluate import lite, serving
from pipeline import artifacts, cli, schema
from pipeline.errors import PipelineError

logger = logging.getLogger(__package__)

Classify = Callable[[np.ndarray], np.ndarray]  # uint8 images [N, ...] -> probabilities [N, classes]


@dataclasses.dataclass(frozen=True)
class Served:
    """A model to ask, and the schema of the images it takes and the classes it gives."""

    classify: Classify
    schema: schema.Schema


def resolve(given: str | None) -> Path:
    """The model `--model` names, or the project's served version when it names none: a
    .tflite file, a SavedModel (version) folder, or a serving folder's latest version.

    Raises:
        PipelineError: saying where no model is, and the command that puts one there.
    """
    if given is None:
        base = Path(artifacts.paths["serving"])
        version = serving.serving_version(base)
        if version is None:  # the one command that serves a model here
            trained = Path(artifacts.paths["model"])
            fix = (
                f"`mnist-push` serves {trained} (as `dvc pull` or `dvc repro` left it)"
                if trained.is_file()
                else "`dvc repro` trains, blesses and pushes one (in a clone of shared "
                "results: `dvc pull`, then `mnist-push`)"
            )
            raise PipelineError(f"no model is served from {base} yet: {fix}")
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


def load(model: Path) -> Served:
    """The classifier of a resolved model (LiteRT where there is a TFLite model) and the
    schema pushed beside it.

    Raises:
        PipelineError: for a model that cannot be loaded, or a schema that is not one.
    """
    tflite = model if model.suffix == ".tflite" else model / serving.TFLITE_MODEL
    version = serving.version_of(tflite) if model.suffix == ".tflite" else model
    found = None if version is None else serving.read_version_schema(version)
    if tflite.is_file():
        with cli.quiet_native_startup():
            classify = lite.LiteModel(tflite)
        return Served(classify, found or _as_the_model_says(classify.shape, classify.classes))
    logger.warning(
        "%s has no %s: asking its SavedModel, through TensorFlow", model, serving.TFLITE_MODEL
    )
    with cli.quiet_native_startup():
        import tensorflow as tf
    signature = serving.load_signature(model)
    if found is None:  # a version pushed before schemas were: MNIST's images, then
        classes = signature.structured_outputs["probabilities"].shape[-1]
        found = _as_the_model_says(schema.DIGIT_SHAPE, int(classes))
    return Served(
        lambda images: signature(images=tf.constant(images))["probabilities"].numpy(), found
    )


def _as_the_model_says(shape: tuple[int, ...], classes: int) -> schema.Schema:
    """The schema of a model pushed without one (before ingest inferred schemas, or a bare
    .tflite file): its input's size, classes named by their ids; framed as digits if it
    takes MNIST's size, else resized."""
    height, width, channels = (*shape, 1)[:3]
    framing = schema.DIGIT if (height, width, channels) == schema.DIGIT_SHAPE else schema.RESIZE
    names = tuple(str(label) for label in range(classes))
    return schema.Schema(height, width, channels, "uint8", names, framing).check()

"""The model mnist-predict asks: the served version's TFLite model on LiteRT, so TensorFlow
is never imported (a version pushed before the TFLite export, through its SavedModel), and
the schema it was trained on: the images it takes and the names of its classes."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from components.evaluate import lite, schemas, serving
from pipeline import artifacts, schema, startup
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


def _version(model: Path) -> Path | None:
    """The version folder of a resolved model; None for a .tflite file outside one."""
    return serving.version_of(model) if model.suffix == ".tflite" else model


def other_data(model: Path, given: str | None) -> str | None:
    """The line that says a resolved model serves other data than this project's, naming
    both; None if it serves the same, or there is nothing to compare: no `data/schema.json`
    (a clone before `dvc pull`, a folder that only serves), or a bare .tflite file.

    Raises:
        PipelineError: for a `data/schema.json` that is not a schema, unless `--model` was
            `given`: the model is asked for then, whatever the project's data.
    """
    version, path = _version(model), Path(artifacts.paths["schema"])
    if version is None or not path.exists():
        return None
    try:
        ours = schema.read_schema(path)
    except PipelineError:
        if given is None:
            raise
        return None
    name = f"version {serving.number(version)}" if given is None else f"--model {given}"
    return schemas.other_data(name, serving.read_version_schema(version), ours)


def load(model: Path) -> Served:
    """The classifier of a resolved model (LiteRT where there is a TFLite model) and the
    schema pushed beside it, once the two are known to go together.

    Raises:
        PipelineError: for a model that cannot be loaded, a schema that is not one, or a
            schema that does not describe the model.
    """
    tflite = model if model.suffix == ".tflite" else model / serving.TFLITE_MODEL
    version = _version(model)
    found = None if version is None else serving.read_version_schema(version)
    if tflite.is_file():
        with startup.quiet_native_startup():
            classify = lite.LiteModel(tflite)
        if found is None:
            return Served(classify, _as_the_model_says(classify.shape, classify.classes))
        schemas.check_model(version, found, classify.shape, classify.classes)
        return Served(classify, found)
    logger.warning(
        "%s has no %s: asking its SavedModel, through TensorFlow", model, serving.TFLITE_MODEL
    )
    with startup.quiet_native_startup():
        import tensorflow as tf
    signature = serving.load_signature(model)
    if found is None:  # a version pushed before schemas were: MNIST's images, then
        classes = signature.structured_outputs["probabilities"].shape[-1]
        found = _as_the_model_says(schema.DIGIT_SHAPE, int(classes))
    schemas.check_signature(model, signature, found)
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

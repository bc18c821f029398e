"""A served version's schema, held against this project's data and against its own model.

Each version carries the schema of the data it was trained on (`assets.extra/schema.json`,
components.evaluate.serving). Evaluate, mnist-push and mnist-predict hold it to the
workspace's `data/schema.json`, so a model of another dataset is never taken for this
one's without a word: `other_data` is the one line that names both. And before anything is
prepared for a version's model, its schema is held to the model itself (`check_model`,
`check_signature`): a schema edited by hand, or copied from another version, would have
images made to the wrong size and answers named by the wrong classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.evaluate.serving import SCHEMA
from pipeline.errors import PipelineError
from pipeline.schema import DIGIT, DIGIT_SHAPE, Schema, shape_text


def same_data(theirs: Schema | None, ours: Schema) -> bool:
    """Whether a version pushed with schema `theirs` is a model of the data of schema `ours`;
    a version pushed before versions carried a schema (None) came from the MNIST family."""
    return theirs == ours if theirs is not None else ours.framing == DIGIT


def other_data(model: str, theirs: Schema | None, ours: Schema) -> str | None:
    """The line that says `model` (`version 3`), pushed with schema `theirs`, serves other
    data than this project's, of schema `ours`, naming both; None if it is the same data."""
    if same_data(theirs, ours):
        return None
    said = theirs.described() if theirs else f"digits ({shape_text(DIGIT_SHAPE)}, no {SCHEMA.name})"
    return f"{model} serves {said}; this project: {ours.described()}"


def _mismatch(version: Path, data: Schema, model: str) -> PipelineError:
    return PipelineError(
        f"{version / SCHEMA} says {data.described()}, but its model {model}: they do not go "
        "together; restore the version or remove it"
    )


def check_model(version: Path, data: Schema, shape: tuple[int, ...], classes: int) -> None:
    """Checks that a TFLite model taking images of `shape` (height, width, and channels
    where there are several) and giving `classes` probabilities is the one `data`, the
    schema pushed beside it in `version`, describes.

    Raises:
        PipelineError: naming both, for a schema and a model that do not go together.
    """
    expected = data.image_shape if data.channels > 1 else data.image_shape[:2]
    if tuple(shape) != expected:
        raise _mismatch(version, data, f"takes {shape_text((*shape, 1)[:3])} images")
    if classes != data.num_classes:
        raise _mismatch(version, data, f"gives {classes} classes")


def check_signature(version: Path, signature: Any, data: Schema) -> None:
    """Checks a version's `serving_default` against `data`, the schema pushed beside it: one
    blank image of the schema's shape must give one row of its classes' probabilities. The
    input is reshaped inside the graph, so only a call shows the shape it takes.

    Raises:
        PipelineError: naming both, for a schema and a model that do not go together.
    """
    import tensorflow as tf  # only the callers that ask a SavedModel pay for TensorFlow

    try:
        probe = signature(images=tf.zeros((1, *data.image_shape), tf.uint8))["probabilities"]
    except (tf.errors.InvalidArgumentError, ValueError):
        probe = None
    if probe is None or probe.shape[0] != 1:
        raise _mismatch(version, data, f"does not take {shape_text(data.image_shape)} images")
    if probe.shape[-1] != data.num_classes:
        raise _mismatch(version, data, f"gives {probe.shape[-1]} classes")

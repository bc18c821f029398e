"""One version folder loaded to serve: its TFLite model on LiteRT, the schema pushed with
it, and its SavedModel's signature defs, proven by answering examples before it serves.

`load_version` is the one way a version comes to serve: mnist-serve's start and its live
reload call it (tools.serve), and evaluate's and mnist-push's InfraValidator
(components.evaluate.infra) loads each staged version with it before the push, so what is
pushed is what the server will load. It knows nothing of HTTP and imports no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import numpy as np

from components.evaluate import lite, schemas, serving, signatures
from pipeline import startup
from pipeline.errors import PipelineError, shown_path
from pipeline.schema import Schema

SIGNATURES = ("serving_default", "predict_png")  # components.evaluate.export's
OUTPUTS = ("classes", "probabilities")  # both signatures', in the SavedModel's order


@dataclasses.dataclass
class Version:
    """A loaded version: ask it with `answer`, from any thread.

    Attributes:
        number: its version number, as TF Serving reads its folder's name.
        schema: the schema pushed with it: its images' shape, its classes' names.
        signature_defs: its SavedModel's, as TF Serving's metadata API shows them.
    """

    number: int
    path: Path
    schema: Schema
    signature_defs: dict[str, Any]
    _model: lite.LiteModel
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def answer(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """uint8 images [N, ...] of the schema's values each -> the signatures' outputs:
        `classes` int64 [N] and `probabilities` float32 [N, classes].

        Raises:
            PipelineError: if the model gives probabilities that are not finite.
        """
        batch = np.asarray(images, np.uint8).reshape(len(images), *self.schema.image_shape)
        with self._lock:  # one interpreter, its tensors reused: one call at a time
            probabilities = self._model(batch).copy()
        if not np.isfinite(probabilities).all():
            raise PipelineError(f"version {self.number} gives probabilities that are not numbers")
        return {
            "classes": probabilities.argmax(axis=1).astype(np.int64),
            "probabilities": probabilities,
        }


def _checked_signatures(path: Path, found: dict[str, Any]) -> dict[str, Any]:
    for name in SIGNATURES:
        outputs = sorted(found.get(name, {}).get("outputs", {}))
        if outputs != sorted(OUTPUTS):
            raise PipelineError(
                f"{path / serving.SAVED_MODEL} has no signature {name} -> classes, probabilities"
            )
    return found


def load_version(
    path: Path, examples: np.ndarray | None = None, number: int | None = None
) -> Version:
    """Loads the version folder `path` and answers `examples` (uint8 images of its schema's
    shape; default: one blank image) with it, so only a version that answers serves.

    Args:
        number: its version number; default: its folder's name, as TF Serving reads it (a
            staged folder, under a temp name, is given one).

    Raises:
        PipelineError: for a folder without a TFLite model or schema, a flatbuffer LiteRT
            cannot load, a schema that does not describe the model, a SavedModel without
            the two signatures, or answers that are not probabilities.
    """
    data = serving.read_version_schema(path)
    tflite = path / serving.TFLITE_MODEL
    for needed, found in (
        (serving.SCHEMA, data is not None),
        (serving.TFLITE_MODEL, tflite.is_file()),
    ):
        if not found:
            raise PipelineError(
                f"{shown_path(path)} has no {needed} (pushed before versions carried one)"
            )
    with startup.quiet_native_startup():
        model = lite.LiteModel(tflite)
    schemas.check_model(path, data, model.shape, model.classes)
    defs = _checked_signatures(path, signatures.signature_defs(path))
    number = serving.number(path) if number is None else number
    version = Version(number, path, data, defs, model)
    probe = np.zeros((1, *data.image_shape), np.uint8) if examples is None else examples
    version.answer(probe)
    return version

"""InfraValidator: a staged version must load and answer as scoring did before it is pushed.

TFX's InfraValidator loads the candidate in the model server it will be pushed to and sends
it requests; here the server is mnist-serve, and its own loader (components.evaluate.loader)
loads the staged version folder: the files about to be renamed to `<N>/`, not the in-memory
model scoring used. It must load (a TFLite flatbuffer LiteRT reads, a schema that describes
that model, a SavedModel with both signatures) and give a few test examples (the `Probe`)
the classes scoring gave them, on LiteRT as mnist-serve answers and through the SavedModel
TF Serving would load (TensorFlow is loaded already where a push runs).
components.evaluate.export runs it on every push, evaluate's and mnist-push's alike, inside
the push's temp folder: a version that fails is removed unrenamed, and the serving folder
is as it was.

A failure is an error, not a verdict (exit status 1, one line), unlike TFX, where the model
is recorded "not infra-blessed" and the pipeline run succeeds without a push. Here the
blessing (`blessing.json`, metrics' `blessed`) is the Evaluator's verdict on the model's
quality, which `dvc exp show` compares across experiments; a staged version that does not
serve is a fault of the export of a blessed model, like a disk that fills during the push,
which already fails the stage. Failing also keeps DVC honest: the stage's reports are not
replaced and dvc.lock does not record the run, so the next `dvc repro` runs evaluate again,
where a success would leave a blessed model recorded as done and never pushed. Runs that
pass write the same reports, byte for byte, as before the check.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from pathlib import Path

import numpy as np

from components.evaluate import loader, version_names
from pipeline.errors import PipelineError, shown_path

logger = logging.getLogger(__package__)

PROBE_SIZE = 16
# An example whose two likeliest classes are closer than this is left out of the probe: the
# two runtimes' probabilities differ in their last bits, which may swap a near tie.
CLEAR_MARGIN = 1e-3

_RETRY = (
    "The staged version was removed; the serving folder is as it was. `dvc repro` (evaluate) "
    "or `mnist-push` pushes again; failing again, this model's export does not serve "
    "(docs/serving.md, 'InfraValidator')."
)


@dataclasses.dataclass(frozen=True)
class Probe:
    """Test examples and the classes scoring gave them: what a staged version must answer.

    Attributes:
        images: uint8 images of the schema's shape, as a client sends them.
        classes: int64, the class scoring gave each.
    """

    images: np.ndarray
    classes: np.ndarray

    @classmethod
    def of(cls, images: np.ndarray, probabilities: np.ndarray) -> Probe:
        """The first PROBE_SIZE of `images` (uint8) whose `probabilities` (scoring's) name a
        class clearly (CLEAR_MARGIN), with that class."""
        top_two = np.sort(probabilities, axis=1)[:, -2:] if probabilities.shape[1] > 1 else None
        clear = (
            np.ones(len(images), bool)
            if top_two is None
            else top_two[:, 1] - top_two[:, 0] >= CLEAR_MARGIN
        )
        chosen = np.flatnonzero(clear)[:PROBE_SIZE]
        classes = probabilities[chosen].argmax(axis=1).astype(np.int64)
        return cls(np.asarray(images, np.uint8)[chosen], classes)


def validate(staged: Path, target: Path, probe: Probe) -> None:
    """Loads `staged`, the folder about to be renamed to `target` (a version folder), as
    mnist-serve would, and holds its answers to `probe`.

    Raises:
        PipelineError: one line, for a folder that does not load or answers otherwise; the
            whole story (the loader's words, the examples) is its evidence.
    """
    number = version_names.parse(target.name)
    name = f"version {number}" if number is not None else shown_path(target)
    if not len(probe.images):  # a model unsure of every example scoring read first
        logger.warning(
            "InfraValidator: no clear example to compare %s's answers on: loaded only", name
        )
    try:
        version = loader.load_version(staged, number=number or 0)
        answers = {
            "LiteRT (mnist-serve)": version.answer(probe.images)["classes"],
            "the SavedModel (TF Serving)": _saved_model_classes(staged, probe.images),
        }
    except Exception as error:  # any way a version fails to serve is the same refusal
        said = (
            str(error)
            if isinstance(error, PipelineError)
            else "".join(traceback.format_exception(error))
        )
        raise PipelineError(
            f"InfraValidator: {name} does not load; not pushed",
            evidence=f"{staged} does not serve: {said}\n{_RETRY}\n",
        ) from None
    for runtime, answered in answers.items():
        wrong = np.flatnonzero(answered != probe.classes)
        if wrong.size:
            lines = [
                f"probe example {i}: {runtime} answers class {answered[i]}, scoring gave "
                f"{probe.classes[i]}"
                for i in wrong
            ]
            raise PipelineError(
                f"InfraValidator: {name} differs on {wrong.size} of {len(answered)}; not pushed",
                evidence="\n".join(
                    [f"{staged} answers otherwise than scoring:", *lines, _RETRY, ""]
                ),
            )


def _saved_model_classes(staged: Path, images: np.ndarray) -> np.ndarray:
    """The classes the staged SavedModel's `serving_default` gives `images`: what TF Serving
    would answer, from the files it would load (variables included)."""
    import tensorflow as tf  # loaded already where a push runs (evaluate, mnist-push)

    signature = tf.saved_model.load(str(staged)).signatures["serving_default"]
    return signature(images=tf.constant(images, tf.uint8))["classes"].numpy()

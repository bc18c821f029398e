"""The pushed model as a TFLite flatbuffer too, run by LiteRT without TensorFlow.

Each version carries `assets.extra/model.tflite` beside its SavedModel (TF Serving ignores
`assets.extra/`, so its layout is untouched). Its one signature, `serving_default`, takes
`images`, uint8 [N, height, width] (channels last where there are several) with N free, and
gives `probabilities`, float32 [N, classes]; the
scaling to [0, 1] is the serving graph's (`transform.scale_pixels_tf`, which the converter
keeps as a builtin GATHER in the same table of 256 values). Only TFLite's builtin ops are
allowed (components.evaluate.export converts it), so running it needs LiteRT alone:
mnist-predict answers without importing TensorFlow, in a fraction of the time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError

SIGNATURE, INPUT, OUTPUT = "serving_default", "images", "probabilities"


class LiteModel:
    """A version's TFLite model on LiteRT's interpreter: uint8 digits in, probabilities out.

    One interpreter, its tensors reused between calls: not for several threads at once.
    """

    def __init__(self, path: str | Path) -> None:
        """Loads the flatbuffer and checks its signature.

        Raises:
            PipelineError: if the file is not a TFLite model of that signature.
        """
        from ai_edge_litert.interpreter import Interpreter  # only predicting pays for it

        try:
            self._interpreter = Interpreter(model_path=str(path))
            runner = self._interpreter.get_signature_list().get(SIGNATURE, {})
            if runner.get("inputs") != [INPUT] or runner.get("outputs") != [OUTPUT]:
                raise PipelineError(f"{path} has no signature {SIGNATURE}: {INPUT} -> {OUTPUT}")
            (given,), (taken,) = (
                self._interpreter.get_input_details(),
                self._interpreter.get_output_details(),
            )
            self._input, self._output = given["index"], taken["index"]
            self.shape = tuple(int(side) for side in given["shape_signature"][1:])
            self.classes = int(taken["shape_signature"][-1])
            self._batch = 0
            self._resize(1)  # LiteRT prints its one start-up line here, not mid-stream
        except PipelineError:
            raise
        except (ValueError, RuntimeError) as error:  # LiteRT's words for a bad flatbuffer
            said = str(error).strip().splitlines()[:1] or [type(error).__name__]
            raise PipelineError(f"cannot load the TFLite model {path} ({said[0][:200]})") from None

    def _resize(self, batch: int) -> None:
        self._interpreter.resize_tensor_input(self._input, [batch, *self.shape])
        self._interpreter.allocate_tensors()
        self._batch = batch

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """uint8 images of the model's input shape -> float32 probabilities, a copy the
        caller may keep."""
        if len(images) != self._batch:
            self._resize(len(images))
        batch = np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), *self.shape)
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)

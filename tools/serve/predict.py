"""TF Serving's predict request and response, in JSON, for the two signatures a version has.

A request names its signature (`signature_name`, default `serving_default`) and gives its
input in the row format (`instances`: a list, one image per element) or the columnar one
(`inputs`: the whole batch as one tensor); the answer is `predictions` (row: an object per
image, keyed by output name, as TF Serving writes several outputs) or `outputs` (columnar:
each output's whole tensor). Each image is given as the signature takes it:

- `serving_default`: `images`, uint8 pixels of the schema's shape, nested lists in any
  layout of its values (the SavedModel reshapes them); an instance may also be
  `{"images": ...}`;
- `predict_png`: `png`, a PNG file as TF Serving's base64 object, `{"b64": "..."}` (or
  `{"png": {"b64": "..."}}`), decoded and resized to the schema's size as the SavedModel does;
  or, asked to `prepare` it (the page at `/` does), prepared as mnist-predict prepares a photo
  (tools.predict.images: paper and strokes found, the digit framed as MNIST's).

Every request is untrusted: anything that is not such a request is one BadRequest line.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
from typing import Any

import numpy as np
from PIL import Image

from pipeline import images, schema
from pipeline.errors import PipelineError
from pipeline.schema import Schema
from tools.predict import images as photos

MAX_BODY_BYTES = 16 * 2**20  # a request body; a larger one is refused unread
MAX_INSTANCES = 1000  # images in one request
MAX_PNG_PIXELS = 4096 * 4096  # a PNG's declared size, checked before it is decoded
MAX_REQUEST_PIXELS = 4 * MAX_PNG_PIXELS  # all of a request's PNGs, each checked so
# TF Serving's --rest_api_timeout_in_ms default: a request's headers must arrive within it
# (of its connection's opening or the previous answer), then its body within it again.
TIMEOUT_MS = 30_000
INPUTS = {"serving_default": "images", "predict_png": "png"}


class BadRequest(ValueError):
    """A request the server cannot answer: its line is the answer's `error`."""


def _reject_constant(name: str) -> None:
    raise BadRequest(f"JSON Parse error: {name} is not a number JSON allows")


def _nesting(data: Schema) -> tuple[int, int]:
    """The most JSON lists and objects a request of at most MAX_INSTANCES images of the
    schema's shape can honestly hold: an image nested as deep as it can be
    ([height][width][channels]), each named ({"images": ...}) or a PNG ({"b64": ...})."""
    spare = 8  # the request's own object, its list
    lists = MAX_INSTANCES * (1 + data.height + data.height * data.width) + spare
    return lists, MAX_INSTANCES * 2 + spare


def parsed_body(body: bytes, data: Schema) -> dict[str, Any]:
    """The request's JSON object, its lists and objects first counted against what images of
    the schema's shape need: parsed, one takes 20 times its bytes (`[],` is 3 bytes, an empty
    list 64), so a 16 MiB body of them would hold 600 MiB. Numbers and strings take at most
    12 times theirs (`"ab",`), and one request is parsed at a time (tools.serve.app).

    Raises:
        BadRequest: for a body that is not a JSON object, or holds more than
            MAX_INSTANCES images can.
    """
    for token, most in zip((b"[", b"{"), _nesting(data), strict=True):
        if body.count(token) > most:
            raise BadRequest(
                f"the request holds more than {MAX_INSTANCES} images of "
                f"{schema.shape_text(data.image_shape)} can ({body.count(token):,} "
                f"'{token.decode()}'; at most {most:,}): send fewer images at a time"
            )
    try:
        request = json.loads(body, parse_constant=_reject_constant)
    except BadRequest:
        raise
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise BadRequest(f"JSON Parse error: {str(error)[:200] or 'nested too deep'}") from None
    if not isinstance(request, dict):
        raise BadRequest("JSON Parse error: the request is not a JSON object")
    return request


def signature_and_input(request: dict[str, Any]) -> tuple[str, bool, Any]:
    """The request's signature name, whether it is columnar, and its input.

    Raises:
        BadRequest: for an unknown signature, or not exactly one of `instances`, `inputs`.
    """
    # TF Serving reads an empty name (as its metadata's model_spec gives it) as the default.
    signature = request.get("signature_name", "")
    if signature == "":
        signature = "serving_default"
    if signature not in INPUTS:
        raise BadRequest(
            f"Serving signature name: {json.dumps(signature)[:100]} not found in signature def"
        )
    if ("instances" in request) == ("inputs" in request):
        raise BadRequest("Missing 'inputs' or 'instances' key (exactly one of them)")
    columnar = "inputs" in request
    return signature, columnar, request["inputs" if columnar else "instances"]


def _unnamed(value: Any, name: str) -> Any:
    """A value given as `{name: value}` (a named input), or as itself (a PNG's `{"b64": ...}`
    among them).

    Raises:
        BadRequest: for an object naming other inputs, in TF Serving's words.
    """
    if not isinstance(value, dict) or set(value) == {"b64"}:
        return value
    if set(value) == {name}:
        return value[name]
    aliases = ", ".join(sorted(str(key)[:40] for key in value)[:5]) or "(none)"
    raise BadRequest(
        f"input tensor alias not found in signature: {aliases}. Inputs expected to be in the "
        f"set {{{name}}}."
    )


def _pixels(value: Any, data: Schema, what: str) -> np.ndarray:
    """uint8 images [N, *schema's shape] from nested lists of integers in [0, 255]."""
    try:
        array = np.array(value)
    except (ValueError, OverflowError):  # ragged lists, or integers beyond int64
        raise BadRequest(f"{what}: not a tensor: nested lists of unequal lengths") from None
    if array.dtype.kind not in "iu" or array.size == 0:
        raise BadRequest(f"{what}: expected integers in [0, 255] (images are DT_UINT8)")
    if array.min() < 0 or array.max() > 255:
        raise BadRequest(f"{what}: a value is outside [0, 255] (images are DT_UINT8)")
    if array.size % data.values:
        raise BadRequest(
            f"{what}: {array.size} values are not whole images of {data.height}x{data.width}x"
            f"{data.channels} ({data.values} values each)"
        )
    return array.astype(np.uint8).reshape(-1, *data.image_shape)


def _photo(image: Image.Image, data: Schema) -> np.ndarray:
    """An opened image as mnist-predict prepares a photo for the model of schema `data`."""
    if data.framing != schema.DIGIT:  # a folder dataset's: resized as ingest resized them
        return images.pixels(image, data.channels, (data.height, data.width))
    return photos.to_mnist(photos.greyscale(image)).reshape(data.image_shape)


def _png(value: Any, data: Schema, what: str, prepare: bool, room: int) -> tuple[np.ndarray, int]:
    """One uint8 image of the schema's shape from `{"b64": <a PNG file in base64>}`, and its
    pixels as its header declares them, which must fit in `room` (what the request's
    earlier PNGs left of MAX_REQUEST_PIXELS)."""
    if not (isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str)):
        raise BadRequest(f'{what}: expected a PNG file as {{"b64": "<base64>"}} (png is DT_STRING)')
    try:
        encoded = base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{what}: the b64 value is not valid base64") from None
    try:
        with images.decoding(io.BytesIO(encoded), ("PNG",), MAX_PNG_PIXELS) as image:
            size = image.width * image.height
            if size > room:
                raise PipelineError(
                    f"the request's PNGs hold over {MAX_REQUEST_PIXELS:,} pixels: send fewer "
                    "or smaller images at a time"
                )
            if prepare:
                return _photo(image, data), size
            return images.pixels(image, data.channels, (data.height, data.width)), size
    except PipelineError as error:
        raise BadRequest(f"{what}: {error}") from None


def _count(n: int) -> None:
    if not 0 < n <= MAX_INSTANCES:
        raise BadRequest(f"{n} images in the request: send 1 to {MAX_INSTANCES} at a time")


def input_images(
    signature: str, columnar: bool, value: Any, data: Schema, prepare: bool = False
) -> np.ndarray:
    """The request's images, uint8 [N, *schema's shape].

    Args:
        prepare: PNG files are photos, prepared as mnist-predict prepares them, not only
            resized as the SavedModel's predict_png does.

    Raises:
        BadRequest: naming what in the input is not images of the signature's kind.
    """
    name = INPUTS[signature]
    if prepare and signature != "predict_png":
        raise BadRequest("prepare=photo takes PNG files: signature_name predict_png")
    if not columnar and not isinstance(value, list):
        raise BadRequest("'instances' is not a list")
    value = _unnamed(value, name)
    if signature == "predict_png":
        if not isinstance(value, list):
            raise BadRequest(f"'{name}' is not a list of PNG files")
        _count(len(value))
        found, room = [], MAX_REQUEST_PIXELS
        for n, one in enumerate(value):
            image, size = _png(_unnamed(one, name), data, f"{name}[{n}]", prepare, room)
            found.append(image)
            room -= size
        return np.stack(found)
    if not columnar:
        _count(len(value))
        rows = [
            _pixels(_unnamed(one, name), data, f"instances[{n}]") for n, one in enumerate(value)
        ]
        if any(len(row) != 1 for row in rows):
            raise BadRequest(f"an instance holds other than one image of {data.values} values")
        return np.concatenate(rows)
    found = _pixels(value, data, f"inputs {name}")
    _count(len(found))
    return found


def _listed(array: np.ndarray) -> list:
    """An output as JSON lists; a float32 as the shortest decimal that reads back as it,
    not as the longer float64 it widens to (`0.99995661`, not `0.9999566078186035`)."""
    if array.dtype != np.float32:
        return array.tolist()
    shortest = [float(str(value)) for value in array.ravel()]  # numpy's float32 str is shortest
    return np.array(shortest, np.float64).reshape(array.shape).tolist()


def response(outputs: dict[str, np.ndarray], columnar: bool) -> dict[str, Any]:
    """TF Serving's answer to a predict request of the given format."""
    lists = {name: _listed(array) for name, array in outputs.items()}
    if columnar:
        return {"outputs": lists}
    count = math.prod(next(iter(outputs.values())).shape[:1])
    return {"predictions": [{name: rows[n] for name, rows in lists.items()} for n in range(count)]}

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.support.records import MNIST, PETS
from tools.predict import images as photos
from tools.serve import predict
from tools.serve.predict import BadRequest


def _b64(image: Image.Image) -> dict[str, str]:
    encoded = io.BytesIO()
    image.save(encoded, format="PNG")
    return {"b64": base64.b64encode(encoded.getvalue()).decode()}


def _images(request: dict, data=MNIST) -> np.ndarray:
    signature, columnar, value = predict.signature_and_input(request)
    return predict.input_images(signature, columnar, value, data)


def test_rows_and_columns_give_the_same_images():
    digit = np.arange(784).reshape(28, 28) % 256
    expected = np.stack([digit, 255 - digit])[..., None].astype(np.uint8)
    as_rows = _images({"instances": [digit.tolist(), (255 - digit).tolist()]})
    as_named_rows = _images({"instances": [{"images": d.tolist()} for d in (digit, 255 - digit)]})
    as_columns = _images({"inputs": {"images": [digit.tolist(), (255 - digit).tolist()]}})
    flat_columns = _images({"inputs": expected.reshape(2, -1).tolist()})
    for images in (as_rows, as_named_rows, as_columns, flat_columns):
        np.testing.assert_array_equal(images, expected)


def test_a_png_is_its_pixels_and_any_size_is_resized():
    digit = (np.arange(784).reshape(28, 28) % 256).astype(np.uint8)
    found = _images({"signature_name": "predict_png", "instances": [_b64(Image.fromarray(digit))]})
    np.testing.assert_array_equal(found[0, ..., 0], digit)
    named = {"png": _b64(Image.fromarray(digit).resize((56, 40)))}
    rgb = _images({"signature_name": "predict_png", "inputs": [named["png"]]}, PETS)
    assert rgb.shape == (1, *PETS.image_shape)


def _photo(size=(300, 400)) -> Image.Image:
    """Dark ink, an off-centre bar, on light, unevenly lit paper."""
    paper = np.linspace(160, 230, size[1])[None, :] * np.ones((size[0], 1))
    paper[40:260, 250:275] = 40
    return Image.fromarray(paper.astype(np.uint8))


def test_a_png_prepared_as_a_photo_is_mnist_predicts_digit():
    photo = _photo()
    request = {"signature_name": "predict_png", "instances": [_b64(photo)]}
    signature, columnar, value = predict.signature_and_input(request)
    found = predict.input_images(signature, columnar, value, MNIST, prepare=True)
    expected = photos.to_mnist(np.asarray(photo, np.float64))
    np.testing.assert_array_equal(found[0, ..., 0], expected)
    assert not np.array_equal(found, _images(request))  # not what predict_png alone makes
    rgb = predict.input_images(signature, columnar, value, PETS, prepare=True)  # resized
    np.testing.assert_array_equal(rgb, _images(request, PETS))


@pytest.mark.parametrize(
    ("request_", "said"),
    [
        (
            {"instances": [[[0] * 28] * 28]},
            "prepare=photo takes PNG files: signature_name predict_png",
        ),
        (
            {"signature_name": "predict_png", "instances": [_b64(Image.new("L", (50, 50), 255))]},
            "png[0]: the image is blank: no ink found",
        ),
    ],
)
def test_what_cannot_be_prepared_as_a_photo_is_one_line(request_, said):
    signature, columnar, value = predict.signature_and_input(request_)
    with pytest.raises(BadRequest) as raised:
        predict.input_images(signature, columnar, value, MNIST, prepare=True)
    assert str(raised.value) == said


def test_the_answer_is_shaped_as_tf_servings():
    outputs = {"classes": np.array([3, 1]), "probabilities": np.eye(2, dtype=np.float32)}
    assert predict.response(outputs, columnar=False) == {
        "predictions": [
            {"classes": 3, "probabilities": [1.0, 0.0]},
            {"classes": 1, "probabilities": [0.0, 1.0]},
        ]
    }
    assert predict.response(outputs, columnar=True) == {
        "outputs": {"classes": [3, 1], "probabilities": [[1.0, 0.0], [0.0, 1.0]]}
    }


BLANK = [[0] * 28] * 28


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"instances = [1, 2]", "JSON Parse error"),
        (b"", "JSON Parse error"),
        (b"\xff\xfe", "JSON Parse error"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON Parse error"),
        (b'{"instances": [NaN]}', "NaN is not a number JSON allows"),
        (b"[1]", "the request is not a JSON object"),
        (b'{"instances": [], "inputs": []}', "Missing 'inputs' or 'instances' key"),
        (b"{}", "Missing 'inputs' or 'instances' key"),
        (b'{"signature_name": "x", "instances": []}', 'Serving signature name: "x" not found'),
        (json.dumps({"instances": []}).encode(), "0 images in the request"),
        (json.dumps({"instances": [BLANK] * 1001}).encode(), "1001 images in the request"),
        (json.dumps({"instances": [[1, 2]]}).encode(), "2 values are not whole images"),
        (json.dumps({"instances": [[[0] * 28] * 27 + [[0] * 3]]}).encode(), "not a tensor"),
        (json.dumps({"instances": [[[0.5] * 28] * 28]}).encode(), "expected integers in [0, 255]"),
        (json.dumps({"instances": [[[256] * 28] * 28]}).encode(), "outside [0, 255]"),
        (json.dumps({"instances": [[[-1] * 28] * 28]}).encode(), "outside [0, 255]"),
        (json.dumps({"instances": [[[2**70] * 28] * 28]}).encode(), "expected integers"),
        (json.dumps({"instances": [[["a"] * 28] * 28]}).encode(), "expected integers"),
        (json.dumps({"instances": [[BLANK, BLANK]]}).encode(), "other than one image"),
        (json.dumps({"instances": {"images": BLANK}}).encode(), "'instances' is not a list"),
        (
            json.dumps({"inputs": {"pixels": BLANK}}).encode(),
            "input tensor alias not found in signature: pixels. Inputs expected to be in the set "
            "{images}.",
        ),
        (json.dumps({"instances": [{}]}).encode(), "alias not found in signature: (none)."),
        (
            json.dumps(
                {"signature_name": "predict_png", "instances": [{"image": {"b64": ""}}]}
            ).encode(),
            "alias not found in signature: image. Inputs expected to be in the set {png}.",
        ),
    ],
)
def test_a_bad_request_is_one_line(body, said):
    with pytest.raises(BadRequest) as raised:
        _images(predict.parsed_body(body, MNIST))
    assert said in str(raised.value)
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 300


@pytest.mark.parametrize(
    ("instance", "said"),
    [
        ({"b64": "not base64!"}, "not valid base64"),
        (
            {"b64": base64.b64encode(b"GIF89a not a png").decode()},
            "not an image: its bytes are none of PNG",
        ),
        ({"b64": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode()}, "not a"),
        ({"b64": 7}, 'expected a PNG file as {"b64"'),
        ("iVBORw0KGgo=", 'expected a PNG file as {"b64"'),
        (_b64(Image.new("L", (8000, 8000))), "the image is 8000x8000; the limit is 16,777,216"),
    ],
)
def test_a_bad_png_is_one_line(instance, said):
    with pytest.raises(BadRequest) as raised:
        _images({"signature_name": "predict_png", "instances": [instance]})
    assert said in str(raised.value)
    assert " at 0x" not in str(raised.value)  # no Python object's address for a client


def test_a_requests_pngs_are_bounded_in_all_by_their_headers(monkeypatch):
    monkeypatch.setattr(predict, "MAX_REQUEST_PIXELS", 300)
    tile = _b64(Image.new("L", (10, 10)))
    request = {"signature_name": "predict_png", "instances": [tile] * 3}
    assert _images(request).shape == (3, 28, 28, 1)  # 300 pixels: all the room there is
    with pytest.raises(BadRequest) as raised:
        _images({**request, "instances": [tile] * 3 + [_b64(Image.new("L", (1, 1)))]})
    assert str(raised.value) == (
        "png[3]: the request's PNGs hold over 300 pixels: send fewer or smaller images at a time"
    )


def test_probabilities_are_written_as_the_shortest_decimal_of_their_float32():
    probabilities = np.random.default_rng(0).random((50, 10), np.float32) ** 8
    written = predict.response({"probabilities": probabilities}, columnar=True)
    text = json.dumps(written)
    np.testing.assert_array_equal(
        np.array(json.loads(text)["outputs"]["probabilities"], np.float32), probabilities
    )
    assert len(text) < len(json.dumps(probabilities.astype(np.float64).tolist()))


def test_an_empty_signature_name_is_the_default_as_tf_serving_reads_it():
    # TF Serving's own metadata gives model_spec.signature_name "": clients send it back.
    request = {"signature_name": "", "instances": [BLANK]}
    assert predict.signature_and_input(request)[0] == "serving_default"
    with pytest.raises(BadRequest, match="Serving signature name: null not found"):
        predict.signature_and_input({"signature_name": None, "instances": [BLANK]})


@pytest.mark.parametrize("unit", [b"[],", b"{},"])
def test_a_body_holding_more_than_the_images_can_is_refused_before_parsing(unit):
    lists, objects = predict._nesting(MNIST)
    most = {b"[],": lists, b"{},": objects}[unit]
    body = b'{"instances": [' + unit * most + b"0]}"
    with pytest.raises(BadRequest) as raised:
        predict.parsed_body(body, MNIST)
    said = str(raised.value)
    assert "more than 1000 images of 28x28x1 can" in said and "send fewer images" in said
    assert "\n" not in said and len(said) < 200


@pytest.mark.parametrize("data", [MNIST, PETS])
def test_the_most_a_request_may_honestly_hold_is_parsed(data):
    """MAX_INSTANCES images, each named and nested as deep as it can be, and as many PNGs."""
    image = np.full(data.image_shape, 255).tolist()
    nested = {"instances": [{"images": image}] * predict.MAX_INSTANCES}
    pngs = {
        "signature_name": "predict_png",
        "instances": [{"png": {"b64": "iVBORw0KGgo="}}] * predict.MAX_INSTANCES,
    }
    for request in (nested, pngs):
        assert predict.parsed_body(json.dumps(request).encode(), data) == request

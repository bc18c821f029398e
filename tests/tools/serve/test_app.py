"""TF Serving's REST API as mnist-serve answers it, over HTTP, from a server process of its
own that cannot import TensorFlow (tests.support.server)."""

import asyncio
import base64
import http.client
import io
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from PIL import Image
from tensorflow.core.protobuf import saved_model_pb2

from components.evaluate import serving as layout
from tests.support import ROOT
from tests.support.project import recipe
from tests.support.server import serving
from tools.predict import images as photos
from tools.serve import app, predict

N = 100  # real test digits


@pytest.fixture(scope="module")
def base(tmp_path_factory, small_serving_dir):
    """Versions 1 and 2, the same model twice."""
    folder = tmp_path_factory.mktemp("serving")
    for number in ("1", "2"):
        shutil.copytree(small_serving_dir / "1", folder / number)
    return folder


@pytest.fixture(scope="module")
def server(base, tmp_path_factory):
    with serving(base, tmp_path_factory.mktemp("log") / "serve.log") as running:
        yield running


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist["test_images"][:N]


def _available(number: int) -> dict:
    return {
        "version": str(number),
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }


def test_status_lists_every_version_as_tf_serving_does(server):
    assert server.get("/v1/models/mnist") == (
        200,
        {"model_version_status": [_available(2), _available(1)]},
    )
    assert server.get("/v1/models/mnist/versions/1") == (
        200,
        {"model_version_status": [_available(1)]},
    )


def test_metadata_is_the_saved_models_signature_defs(server, base):
    status, answer = server.get("/v1/models/mnist/metadata")
    assert status == 200
    assert answer["model_spec"] == {"name": "mnist", "signature_name": "", "version": "2"}
    saved = saved_model_pb2.SavedModel.FromString((base / "2" / layout.SAVED_MODEL).read_bytes())
    expected = {
        name: json_format.MessageToDict(
            signature, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        for name, signature in saved.meta_graphs[0].signature_def.items()
    }
    assert answer["metadata"]["signature_def"] == {"signature_def": expected}
    assert answer["metadata"]["schema"]["classes"] == [str(n) for n in range(10)]
    assert server.get("/v1/models/mnist/versions/1/metadata")[1]["model_spec"]["version"] == "1"


def _check(predictions_or_outputs, theirs, columnar):
    if columnar:
        classes = predictions_or_outputs["classes"]
        probabilities = predictions_or_outputs["probabilities"]
    else:
        classes = [row["classes"] for row in predictions_or_outputs]
        probabilities = [row["probabilities"] for row in predictions_or_outputs]
    np.testing.assert_array_equal(classes, theirs["classes"].numpy())
    np.testing.assert_allclose(probabilities, theirs["probabilities"].numpy(), atol=1e-5)


def test_predict_answers_as_the_saved_model_in_both_formats(server, digits, small_signatures):
    theirs = small_signatures["serving_default"](images=tf.constant(digits))
    status, answer = server.post("/v1/models/mnist:predict", {"instances": digits.tolist()})
    assert status == 200 and set(answer) == {"predictions"}
    _check(answer["predictions"], theirs, columnar=False)
    request = {"signature_name": "serving_default", "inputs": {"images": digits.tolist()}}
    status, answer = server.post("/v1/models/mnist/versions/1:predict", request)
    assert status == 200 and set(answer) == {"outputs"}
    _check(answer["outputs"], theirs, columnar=True)


def _png(image: np.ndarray) -> dict:
    encoded = io.BytesIO()
    Image.fromarray(image).save(encoded, format="PNG")
    return {"b64": base64.b64encode(encoded.getvalue()).decode()}


def test_predict_png_answers_as_the_saved_model(server, digits, small_signatures):
    pngs = [_png(image) for image in digits[:20]]
    theirs = small_signatures["predict_png"](
        png=tf.constant([base64.b64decode(p["b64"]) for p in pngs])
    )
    status, answer = server.post(
        "/v1/models/mnist:predict", {"signature_name": "predict_png", "instances": pngs}
    )
    assert status == 200
    _check(answer["predictions"], theirs, columnar=False)
    named = [{"png": png} for png in pngs]
    status, answer = server.post(
        "/v1/models/mnist:predict", {"signature_name": "predict_png", "instances": named}
    )
    _check(answer["predictions"], theirs, columnar=False)


BLANK = [[0] * 28] * 28
BOMB = io.BytesIO()
Image.new("L", (10_000, 10_000)).save(BOMB, format="PNG")  # 100 Mpx in a small file


@pytest.mark.parametrize(
    ("path", "body", "code", "said"),
    [
        ("/v1/models/other", None, 404, "Could not find any versions of model other"),
        ("/v1/models/mnist/versions/9", None, 404, "Servable not found"),
        ("/v1/models/mnist/versions/9:predict", b'{"instances": []}', 404, "Specific(mnist, 9)"),
        ("/v1/models/mnist/versions/x1", None, 400, "Malformed request"),
        ("/v1/models/mnist/versions/99999999999999999999", None, 400, "Malformed request"),
        ("/v1/models/mnist/versions/%2E%2E/1", None, 400, "Malformed request"),
        ("/v1/models/..%2F..%2Fetc", None, 400, "Malformed request"),
        ("/v1/models/mnist:predict", None, 400, "predict is POST"),
        ("/v1/models/mnist/versions/9223372036854775808", None, 400, "Malformed request"),
        ("/v1/models/mnist/versions/9223372036854775807", None, 404, "Servable not found"),
        ("/v1/models/mnist/versions/" + "9" * 5000, None, 400, "Malformed request"),
        ("/v1/models/mnist/versions/001111111111111111111111", None, 400, "Malformed request"),
        ("/v1/models/mnist/versions/" + "0" * 5000 + "9", None, 404, "Specific(mnist, 9)"),
        ("/v2/anything", None, 404, "Malformed request"),
        ("/v1/models/mnist/versions/-1", None, 400, "Malformed request"),
        ("/v1/models/mnist/versions/%EF%BC%91", None, 400, "Malformed request"),  # a wide 1
        ("/v1/models/mnist/versions/1%2F..%2F2", None, 400, "Malformed request"),
        ("/v1/models/mnist/versions/1%00", None, 400, "Malformed request"),
        ("/v1/models/" + "m" * 5000, None, 404, "Could not find any versions of model mmm"),
        ("/v1/models/mnist:predict", b"instances = [1]", 400, "JSON Parse error"),
        ("/v1/models/mnist:predict", b'{"instances": [[1, 2]]}', 400, "not whole images"),
        ("/v1/models/mnist:predict", b'{"inputs": [[300]]}', 400, "outside [0, 255]"),
        ("/v1/models/mnist:predict", b'{"inputs": [["1"]]}', 400, "expected integers"),
        (
            "/v1/models/mnist:predict",
            json.dumps({"instances": [BLANK] * (predict.MAX_INSTANCES + 1)}).encode(),
            400,
            "images in the request: send 1 to",
        ),
        (  # millions of instances, well within the body's limit: refused by their count
            "/v1/models/mnist:predict",
            json.dumps({"instances": [0] * 3_000_000}).encode(),
            400,
            "3000000 images in the request: send 1 to",
        ),
        (
            "/v1/models/mnist:predict",
            json.dumps({"inputs": [0] * (28 * 28 * 5000)}).encode(),
            400,
            "5000 images in the request: send 1 to",
        ),
        (
            "/v1/models/mnist:predict",
            b'{"signature_name": "predict_png", "instances": [{"b64": "%%%"}]}',
            400,
            "not valid base64",
        ),
        (
            "/v1/models/mnist:predict",
            json.dumps(
                {
                    "signature_name": "predict_png",
                    "instances": [{"b64": base64.b64encode(BOMB.getvalue()).decode()}],
                }
            ).encode(),
            400,
            "the image is 10000x10000; the limit is 16,777,216 pixels",
        ),
        (  # 5.6 million empty lists (600 MiB parsed) in 16 MiB: refused unparsed
            "/v1/models/mnist:predict",
            b'{"instances": [' + b"[]," * (predict.MAX_BODY_BYTES // 3 - 20) + b"0]}",
            400,
            "send fewer images at a time",
        ),
    ],
)
def test_a_bad_request_is_one_line_and_the_server_keeps_serving(server, path, body, code, said):
    assert server.call(path, body)[0] == code
    answer = server.call(path, body)[1]
    assert said in answer["error"] and "\n" not in answer["error"], answer
    assert server.post("/v1/models/mnist:predict", {"instances": [BLANK]})[0] == 200


def test_a_body_over_the_limit_is_refused_unread(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.putrequest("POST", "/v1/models/mnist:predict")
        connection.putheader("Content-Length", str(predict.MAX_BODY_BYTES + 1))
        connection.endheaders()  # and not a byte of the body
        answer = connection.getresponse()
        assert answer.status == 413
        assert json.loads(answer.read())["error"] == (
            "the request body is over 16 MiB: send fewer images at a time"
        )
    finally:
        connection.close()
    assert server.post("/v1/models/mnist:predict", {"instances": [BLANK]})[0] == 200


def test_a_chunked_body_over_the_limit_is_refused_too(server):
    def chunks():
        for _ in range(predict.MAX_BODY_BYTES // 2**20 + 2):
            yield b" " * 2**20

    request = urllib.request.Request(server.url + "/v1/models/mnist:predict", data=chunks())
    request.add_header("Transfer-Encoding", "chunked")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    with refused.value:  # the answer, closed once read
        assert refused.value.code == 413


@pytest.fixture(scope="module")
def impatient(base, tmp_path_factory):
    """A server that waits a second for a request's headers, then a second for its body."""
    log = tmp_path_factory.mktemp("log") / "impatient.log"
    with serving(base, log, "--rest_api_timeout_in_ms", "1000") as running:
        yield running


def _connected(server) -> socket.socket:
    """A raw connection to `server`; a read waits 30 s at most (the server's own deadline
    is 1 s), so a server that never drops a slow client fails the test instead of hanging."""
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def _until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends on `connection` until it closes it."""
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


HEADERS = b"POST /v1/models/mnist:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def test_slow_clients_are_dropped_and_never_hold_up_the_others(impatient):
    with (
        _connected(impatient) as silent,
        _connected(impatient) as trickling,
        _connected(impatient) as stalled,
    ):
        trickling.sendall(HEADERS)  # the headers never end
        stalled.sendall(HEADERS + b"Content-Length: 1000\r\n\r\n" + b'{"instances": [')
        for _ in range(3):  # answered while the three wait
            assert impatient.post("/v1/models/mnist:predict", {"instances": [BLANK]})[0] == 200
        with pytest.raises(OSError):  # reset, or a broken pipe, once dropped
            for _ in range(300):  # 30 s of a header byte every 0.1 s
                trickling.sendall(b"X")
                time.sleep(0.1)
        assert _until_closed(silent) == b""
        answer = _until_closed(stalled)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head.lower()
    assert json.loads(body) == {
        "error": "the request body did not arrive within 1 s: send it without pausing"
    }
    assert impatient.post("/v1/models/mnist:predict", {"instances": [BLANK]})[0] == 200
    assert "Traceback" not in impatient.log.read_text()


def test_a_client_that_keeps_asking_keeps_its_connection(impatient):
    """The headers' deadline starts again at each answer's end, so a kept-alive client
    asking more often than the deadline is never dropped, however long it goes on."""
    connection = http.client.HTTPConnection("127.0.0.1", impatient.port, timeout=30)
    body = json.dumps({"instances": [BLANK]})
    try:
        for _ in range(12):  # over twice the deadline in all
            connection.request("POST", "/v1/models/mnist:predict", body)
            answer = connection.getresponse()
            assert answer.status == 200 and answer.getheader("connection") != "close"
            answer.read()
            sock = connection.sock
            time.sleep(0.2)
        assert connection.sock is sock  # the one connection throughout
    finally:
        connection.close()


def test_a_method_a_path_does_not_take_is_a_json_error(server):
    request = urllib.request.Request(server.url + "/v1/models/mnist", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    with refused.value:
        assert refused.value.code == 405
        said = json.loads(refused.value.read())
    assert said == {"error": "Malformed request: PUT /v1/models/mnist"}


def _predicted(server, path: str, request: dict) -> tuple[int, str | None, dict]:
    """(HTTP status, X-Model-Version, JSON answer) of a predict request."""
    sent = urllib.request.Request(server.url + path, data=json.dumps(request).encode())
    try:
        with urllib.request.urlopen(sent, timeout=60) as answer:
            return answer.status, answer.headers["X-Model-Version"], json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["X-Model-Version"], json.loads(error.read())


def test_a_predict_answer_names_its_version_in_a_header_only(server, digits):
    request = {"instances": digits[:1].tolist()}
    assert _predicted(server, "/v1/models/mnist:predict", request)[:2] == (200, "2")
    status, version, answer = _predicted(server, "/v1/models/mnist/versions/1:predict", request)
    assert (status, version, set(answer)) == (200, "1", {"predictions"})  # TF Serving's JSON
    assert _predicted(server, "/v1/models/mnist/versions/9:predict", request)[:2] == (404, None)


def test_prepare_photo_answers_for_mnist_predicts_digit_of_the_png(server):
    photo = np.full((200, 300), 220, np.uint8)
    photo[30:170, 200:215] = 30  # a dark bar, off-centre, on light paper: a "1"
    prepared = photos.to_mnist(photo.astype(np.float64))
    request = {"signature_name": "predict_png", "instances": [_png(photo)]}
    status, version, answer = _predicted(server, "/v1/models/mnist:predict?prepare=photo", request)
    assert (status, version) == (200, "2")
    assert answer == server.post("/v1/models/mnist:predict", {"instances": [prepared.tolist()]})[1]
    plain = server.post("/v1/models/mnist:predict", request)[1]  # TF Serving's predict_png
    assert plain != answer
    status, _, refused = _predicted(server, "/v1/models/mnist:predict?prepare=all", request)
    assert (status, refused) == (
        400,
        {"error": "Malformed request: prepare='all'; the one kind is photo"},
    )


def test_the_page_and_its_files_are_served_and_nothing_beside_them(server):
    with urllib.request.urlopen(server.url + "/", timeout=60) as answer:
        assert answer.headers["Content-Type"].startswith("text/html")
        assert '<meta name="model-name" content="mnist">' in answer.read().decode()
    for name in ("page.js", "page.css"):
        with urllib.request.urlopen(f"{server.url}/static/{name}", timeout=60) as answer:
            assert answer.read() == (ROOT / "tools/serve/static" / name).read_bytes()
    for path in ("/static/../app.py", "/static/%2E%2E/app.py", "/static/nothing.js"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + path, timeout=60)
        refused.value.close()
        assert refused.value.code == 404


def test_the_server_never_imported_tensorflow(server):
    assert server.get("/v1/models/mnist")[0] == 200
    assert server.process.poll() is None
    assert "imported" not in server.log.read_text()


def _documented_answer() -> dict:
    text = (ROOT / "docs/serving.md").read_text()
    after = text[text.index("<!-- /recipe:serve-predict-png -->") :]
    start = after.index("```json\n") + len("```json\n")
    return json.loads(after[start : after.index("\n```", start)])


def test_the_docs_curl_example_answers_as_documented(server, digits, small_signatures, tmp_path):
    Image.fromarray(digits[0]).save(tmp_path / "digit.png")  # MNIST's first test digit, a 7
    command = recipe("docs/serving.md", "serve-predict-png")
    command = command.replace("localhost:8501", f"127.0.0.1:{server.port}")
    result = subprocess.run(
        ["bash", "-e", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answer, documented = json.loads(result.stdout), _documented_answer()
    (row,), (shown,) = answer["predictions"], documented["predictions"]
    assert set(row) == set(shown) == {"classes", "probabilities"}
    assert len(row["probabilities"]) == len(shown["probabilities"]) == 10
    assert shown["classes"] == 7 == int(np.argmax(shown["probabilities"]))
    theirs = small_signatures["predict_png"](
        png=tf.constant([(tmp_path / "digit.png").read_bytes()])
    )
    assert row["classes"] == int(theirs["classes"].numpy()[0])


def test_bodies_held_at_once_are_bounded_and_a_body_past_it_waits_then_is_refused():
    async def story() -> list[str]:
        budget, said = app._Budget(10), []
        async with budget.held(8, timeout_s=5):
            try:
                async with budget.held(5, timeout_s=0.05):
                    said.append("held past the budget")
            except app._Failure as failure:
                said.append(f"{failure.status} {failure}")
            async with budget.held(2, timeout_s=0.05):  # what is left
                said.append("held within it")
        async with budget.held(10, timeout_s=0.05):  # all of it, once returned
            said.append("held all")
        return said

    assert asyncio.run(story()) == [
        "503 the server is busy with other requests' bodies: retry in 0.05 s",
        "held within it",
        "held all",
    ]

"""mnist-serve's page at `/`, in a real browser: Debian's headless Chromium driven by
Playwright (tests.support.browser), against a server process of its own.

The page's answers are held to the API's for the very request the page sent (captured from
the browser), and to mnist-predict's preparation of the PNG it sent; every request the page
makes must go to the server. Screenshots land in the test's temp folder.
"""

import base64
import io
import json
import shutil
import urllib.parse
import urllib.request

import numpy as np
import pytest
from PIL import Image

from tests.support.browser import launched
from tests.support.server import serving
from tools.predict import images as photos
from tools.serve.page import index as page_html

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(tmp_path_factory, small_serving_dir):
    """Versions 1 and 4 of the small model: the page must name 4, the one that answers."""
    base = tmp_path_factory.mktemp("serving")
    for number in ("1", "4"):
        shutil.copytree(small_serving_dir / "1", base / number)
    with serving(base, tmp_path_factory.mktemp("log") / "serve.log") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with launched() as running:
        yield running


def _opened(context, server):
    """The page at `/` in `context`, loaded and ready; its `requested` lists every URL it
    asked for, its `failures` every script error."""
    opened = context.new_page()
    opened.requested, opened.failures = [], []
    opened.on("request", lambda request: opened.requested.append(request.url))
    opened.on("pageerror", lambda error: opened.failures.append(str(error)))
    opened.goto(server.url + "/")
    opened.wait_for_selector("body[data-ready]")
    return opened


@pytest.fixture
def page(browser, server):
    """The page at `/` on a desktop's screen."""
    context = browser.new_context(viewport=DESKTOP)
    yield _opened(context, server)
    context.close()


def _api(server, url: str, body: bytes) -> tuple[str, dict]:
    """(X-Model-Version, JSON answer) of the API for a POST of `body` to `url`'s path."""
    parts = urllib.parse.urlsplit(url)
    request = urllib.request.Request(f"{server.url}{parts.path}?{parts.query}", data=body)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.headers["X-Model-Version"], json.loads(answer.read())


def _shown(page) -> dict:
    """What the page shows: the answer, each bar's probability and text, the version."""
    return page.evaluate(
        """() => ({
            answer: document.getElementById("answer").textContent,
            version: document.body.dataset.version,
            status: document.getElementById("status").textContent,
            names: [...document.querySelectorAll(".bar .name")].map((e) => e.textContent),
            probabilities: [...document.querySelectorAll(".bar")].map(
                (e) => Number(e.dataset.probability)),
            values: [...document.querySelectorAll(".bar .value")].map((e) => e.textContent),
            widths: [...document.querySelectorAll(".bar .fill")].map((e) => e.style.width),
        })"""
    )


def _sent_png(request) -> Image.Image:
    body = json.loads(request.post_data)
    assert body["signature_name"] == "predict_png" and len(body["instances"]) == 1
    return Image.open(io.BytesIO(base64.b64decode(body["instances"][0]["b64"])), formats=["PNG"])


def _check_against_the_api(page, server, request) -> dict:
    """The page's answer, held to the API's for the request the page sent, and to the
    answer for mnist-predict's preparation of the PNG it sent (pixels, not a PNG)."""
    page.wait_for_function("() => document.body.dataset.version !== undefined")
    shown = _shown(page)
    version, answer = _api(server, request.url, request.post_data_buffer)
    (theirs,) = answer["predictions"]
    classes = server.get("/v1/models/mnist/metadata")[1]["metadata"]["schema"]["classes"]
    assert shown["version"] == version == "4"
    assert f"version {version}" in shown["status"]
    assert shown["names"] == classes
    assert shown["answer"] == classes[theirs["classes"]]
    assert shown["probabilities"] == theirs["probabilities"]  # the JSON's floats, exactly
    for shown_value, width, probability in zip(
        shown["values"], shown["widths"], theirs["probabilities"], strict=True
    ):
        assert abs(float(shown_value.rstrip("%")) - 100 * probability) <= 0.05 + 1e-9
        assert float(width.rstrip("%")) == pytest.approx(100 * probability, abs=1e-3)
    prepared = photos.to_mnist(photos.greyscale(_sent_png(request)))
    status, direct = server.post("/v1/models/mnist:predict", {"instances": [prepared.tolist()]})
    assert status == 200 and direct["predictions"] == answer["predictions"]
    assert all(
        url.startswith(server.url + "/") or url.startswith("data:") for url in page.requested
    )
    assert page.failures == []
    return shown


def test_a_stroke_drawn_on_the_canvas_is_answered_as_the_api_answers_it(page, server, tmp_path):
    box = page.locator("#canvas").bounding_box()
    x = box["x"] + box["width"] / 2
    with page.expect_request(lambda request: ":predict" in request.url) as sent:
        page.mouse.move(x, box["y"] + 0.15 * box["height"])
        page.mouse.down()
        page.mouse.move(x, box["y"] + 0.85 * box["height"], steps=20)  # a "1"
        page.mouse.up()
    request = sent.value
    assert urllib.parse.urlsplit(request.url).query == "prepare=photo"
    drawn = np.asarray(_sent_png(request).convert("L"))
    ink_columns = np.nonzero((drawn < 128).any(axis=0))[0]
    ink_rows = np.nonzero((drawn < 128).any(axis=1))[0]
    assert ink_columns.size and np.ptp(ink_columns) < 0.15 * drawn.shape[1]  # one vertical line
    assert np.ptp(ink_rows) > 0.6 * drawn.shape[0]
    _check_against_the_api(page, server, request)
    page.screenshot(path=tmp_path / "page-drawn.png")

    page.click("#clear")
    assert _shown(page)["answer"] == "\u2013"
    assert all(np.isnan(p) for p in _shown(page)["probabilities"])


def test_a_photo_chosen_or_dropped_is_sent_as_it_is_and_answered_as_the_api_answers_it(
    page, server, mnist, tmp_path
):
    # A test digit photographed, roughly: dark ink on uneven light paper, off-centre.
    digit = Image.fromarray(mnist["test_images"][0]).resize((240, 240), Image.Resampling.BILINEAR)
    paper = np.linspace(150, 230, 400)[None, :] * np.ones((300, 1))
    paper[20:260, 100:340] -= np.asarray(digit, np.float64) * 0.5
    photo = tmp_path / "photo.png"
    Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).save(photo)
    with page.expect_request(lambda request: ":predict" in request.url) as sent:
        page.set_input_files("#photo", photo)
    request = sent.value
    sent_pixels = np.asarray(_sent_png(request).convert("L"))
    np.testing.assert_array_equal(sent_pixels, np.asarray(Image.open(photo)))
    shown = _check_against_the_api(page, server, request)
    assert shown["answer"] == "7"  # MNIST's first test digit, which the small model knows
    page.screenshot(path=tmp_path / "page-photo.png")

    page.click("#clear")
    dropped = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const files = new DataTransfer();
            files.items.add(new File([bytes], "photo.png", { type: "image/png" }));
            return files;
        }""",
        base64.b64encode(photo.read_bytes()).decode(),
    )
    with page.expect_request(lambda request: ":predict" in request.url) as sent_again:
        page.dispatch_event("#pad", "drop", {"dataTransfer": dropped})
    assert sent_again.value.post_data == request.post_data  # a photo dropped is sent the same
    again = _check_against_the_api(page, server, sent_again.value)
    assert {**again, "status": ""} == {**shown, "status": ""}  # the status says its time


def test_the_page_fits_a_phone_and_a_finger_draws_on_it(browser, server, tmp_path):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = _opened(context, server)
        box = page.locator("#canvas").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["width"] >= 0.8 * PHONE["width"]  # a square a finger can draw in
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        touch = context.new_cdp_session(page)  # Playwright's own touch API only taps
        x = box["x"] + box["width"] / 2
        ys = np.linspace(box["y"] + 0.15 * box["height"], box["y"] + 0.85 * box["height"], 20)
        with page.expect_request(lambda request: ":predict" in request.url) as sent:
            for kind, y in [("touchStart", ys[0])] + [("touchMove", y) for y in ys[1:]]:
                touch.send(
                    "Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]}
                )
            touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert page.evaluate("window.scrollY") == 0  # the stroke drew; it did not scroll
        _check_against_the_api(page, server, sent.value)
        page.screenshot(path=tmp_path / "page-phone.png", full_page=True)
    finally:
        context.close()


def test_the_model_name_is_written_into_the_page_escaped():
    text = page_html('a"<b>&c')
    assert '<meta name="model-name" content="a&quot;&lt;b&gt;&amp;c">' in text
    assert "{{" not in text

import io
import os
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pipeline import images
from pipeline.errors import PipelineError
from tests.support.fuzz import spoiled


def _encoded(array: np.ndarray, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=format)
    return buffer.getvalue()


GREY = np.arange(30, dtype=np.uint8).reshape(6, 5) * 8
_PNG = _encoded(GREY)


def _read(path, channels=1, size=(6, 5)) -> np.ndarray:
    with images.reading(path) as image:
        return images.pixels(image, channels, size)


def test_a_png_reads_as_its_pixels_and_resizes_to_the_size_asked(tmp_path):
    (tmp_path / "a.png").write_bytes(_PNG)
    np.testing.assert_array_equal(_read(tmp_path / "a.png")[..., 0], GREY)
    assert _read(tmp_path / "a.png", channels=3, size=(12, 10)).shape == (12, 10, 3)


def test_16_bit_grey_keeps_its_top_byte(tmp_path):
    Image.fromarray(GREY.astype(np.uint16) * 256 + 255).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(_read(tmp_path / "deep.png")[..., 0], GREY)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.write_bytes(b"not an image"), "not an image: its bytes are none of PNG"),
        (lambda p: p.write_bytes(_PNG[:45]), "not a readable PNG"),
        (lambda p: p.mkdir(), "not a regular file"),
        (lambda p: os.mkfifo(p), "not a regular file"),  # never opened for reading: no hang
        (lambda p: p.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n"), "not an image"),  # no Ghostscript
    ],
    ids=["missing", "empty", "not image", "truncated", "folder", "fifo", "eps"],
)
def test_a_file_that_is_not_a_readable_image_is_one_error(tmp_path, make, message):
    path = tmp_path / "x.png"
    make(path)
    with pytest.raises(PipelineError, match=message):
        _read(path)


def test_a_header_declaring_too_many_pixels_is_refused_before_decoding(tmp_path):
    png = bytearray(_PNG)
    png[16:24] = (100_000).to_bytes(4, "big") * 2  # IHDR's width and height: 10^10 pixels
    png[29:33] = zlib.crc32(png[12:29]).to_bytes(4, "big")  # and the chunk's CRC to match
    (tmp_path / "bomb.png").write_bytes(bytes(png))
    with pytest.raises(PipelineError, match="too large"):
        _read(tmp_path / "bomb.png")


def test_a_link_is_refused_where_links_are_not_followed(tmp_path):
    (tmp_path / "a.png").write_bytes(_PNG)
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    with (
        pytest.raises(PipelineError, match="a link, not a file"),
        images.reading(tmp_path / "link.png", follow_links=False),
    ):
        pass


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_FILE_BYTES", len(_PNG) - 1)
    (tmp_path / "a.png").write_bytes(_PNG)
    with pytest.raises(PipelineError, match="the limit is"):
        _read(tmp_path / "a.png")


_FILES = st.sampled_from(
    [_PNG, _encoded(GREY, "JPEG"), _encoded(GREY, "BMP"), _encoded(GREY, "GIF")]
)


@settings(max_examples=200, deadline=None)
@given(spoiled(_FILES, reach=len(_PNG)), st.sampled_from([1, 3]))
def test_any_bytes_read_as_an_image_of_the_size_asked_or_one_error(
    tmp_path_factory, data, channels
):
    path = tmp_path_factory.mktemp("fuzz") / "x.img"
    path.write_bytes(data)
    try:
        array = _read(path, channels, (6, 5))
    except PipelineError as error:
        assert "\n" not in str(error) and len(str(error)) < 400
    else:
        assert array.shape == (6, 5, channels) and array.dtype == np.uint8

"""Image files the project did not write, opened safely: ingest's folders, mnist-predict's.

Any image file is untrusted. A file is read only if it is a regular file (opened first and
checked after, so a file swapped for a FIFO cannot hang the reader) of at most
MAX_FILE_BYTES, decodes with one of Pillow's own raster decoders (never a plugin that runs
another program, as EPS does with Ghostscript), and declares at most MAX_PIXELS before any
pixel is decoded. Whatever goes wrong while it is read, the file gets one PipelineError
that says what, and no other file is affected.
"""

from __future__ import annotations

import contextlib
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from pipeline.errors import PipelineError

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM", "TGA", "ICO")
MAX_FILE_BYTES = 50 * 2**20
MAX_PIXELS = 50_000_000  # as declared by the file's header, checked before decoding


def suffixes() -> frozenset[str]:
    """The file name suffixes (lower case, with the dot) of FORMATS."""
    Image.init()
    return frozenset(e for e, name in Image.registered_extensions().items() if name in FORMATS)


def _opened(path: Path, follow_links: bool) -> int:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise PipelineError("no such file") from None
    except OSError as error:
        link = not follow_links and os.path.islink(path)
        raise PipelineError("a link, not a file" if link else error.strerror) from None
    info = os.fstat(fd)
    problem = (
        "not a regular file"
        if not stat.S_ISREG(info.st_mode)
        else "the file is empty"
        if info.st_size == 0
        else f"the file is {info.st_size / 2**20:.0f} MiB; the limit is {MAX_FILE_BYTES >> 20} MiB"
        if info.st_size > MAX_FILE_BYTES
        else None
    )
    if problem:
        os.close(fd)
        raise PipelineError(problem)
    os.set_blocking(fd, True)
    return fd


@contextlib.contextmanager
def reading(path: Path, *, follow_links: bool = True) -> Iterator[Image.Image]:
    """The image file opened by its header and checked within the bounds; decode it (load,
    convert, resize) inside the block. Any failure to read it, there or here, is one
    PipelineError saying what went wrong.

    Raises:
        PipelineError: for a missing, special, empty, oversized, unreadable or non-image file.
    """
    with open(_opened(path, follow_links), "rb") as file, decoding(file) as image:
        yield image


@contextlib.contextmanager
def decoding(
    file: BinaryIO, formats: tuple[str, ...] = FORMATS, max_pixels: int = MAX_PIXELS
) -> Iterator[Image.Image]:
    """An image in `file` (of bytes already bounded), opened by its header with one of
    `formats` and at most `max_pixels` declared; decode it inside the block. Any failure,
    there or here, is one PipelineError saying what went wrong.

    Raises:
        PipelineError: for bytes that are not a readable image of `formats` within the bounds.
    """
    try:
        # Pillow warns of huge images (ours is a lower limit, and says so) and of damage it
        # reads past (corrupt EXIF, say): the file's one line is this function's to say.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(file, formats=formats) as image:
                if image.width * image.height > max_pixels:
                    raise PipelineError(
                        f"the image is {image.width}x{image.height}; the limit is "
                        f"{max_pixels:,} pixels"
                    )
                if not image.width or not image.height:
                    raise PipelineError(f"the image is {image.width}x{image.height}: empty")
                yield image
    except PipelineError:
        raise
    except Image.DecompressionBombError:
        raise PipelineError("the image is too large (over Pillow's pixel limit)") from None
    except Image.UnidentifiedImageError:
        raise PipelineError(f"not an image: its bytes are none of {', '.join(formats)}") from None
    except Exception as error:  # Pillow's decoders fail in many ways on hostile files
        kinds = ", ".join(formats)
        raise PipelineError(f"not a readable {kinds} image ({_said(error)})") from None


def _said(error: Exception) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:200]


GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def pixels(image: Image.Image, channels: int, size: tuple[int, int]) -> np.ndarray:
    """An opened image decoded as uint8 [height, width, channels] of `size` (height,
    width): grey (1) or RGB (3), by Pillow's conversions, alpha dropped; 16-bit grey keeps
    its top byte (as TensorFlow's decode_image does); resized if it is another size."""
    image.load()
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0, posinf=0, neginf=0)
        scaled = values / 256 if image.mode != "F" else values * 255
        image = Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")
    mode = "L" if channels == 1 else "RGB"
    if image.mode != mode:
        image = image.convert(mode)
    height, width = size
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if channels == 1 else array

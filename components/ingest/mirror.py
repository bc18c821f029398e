"""The offline mirror: a folder holding a dataset's four original IDX `.gz` files.

tfds's MNIST-family builders read these instead of downloading. They are checked here
first, so a damaged mirror fails with the file's name and what is wrong with it rather
than somewhere deep inside tfds. Nothing here trusts a file further than its header, and
the header only as far as the shape the dataset has: decompression stops there.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError, fitted
from pipeline.schema import shape_text

# The builders' own file names (tfds image_classification/mnist.py), same for every dataset.
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_COUNTS = {"train": 60_000, "test": 10_000}

# SHA-256 of the decompressed files as published (the .gz bytes vary with the compressor).
KNOWN_SHA256 = {
    "mnist": {
        "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
}


def _bad(path: Path, said: str) -> PipelineError:
    """The one line for a problem with the mirror's `path`, the rest of it `said`."""
    return PipelineError(fitted("mirror: ", path, said))


def _read_idx(name: str, path: Path) -> tuple[np.ndarray, str]:
    """Decompresses one IDX file, reading no more than its expected shape's bytes (and one
    more, to tell a file that goes on): a gzip built to expand without end costs nothing.

    Returns:
        The array, and the SHA-256 of the decompressed content.
    """
    images = name.endswith("images")
    magic, dims = (_IMAGES_MAGIC, 3) if images else (_LABELS_MAGIC, 1)
    count = _COUNTS[name.split("_")[0]]
    expected_shape = (count, 28, 28) if images else (count,)
    size = int(np.prod(expected_shape))
    if not path.is_file():
        raise _bad(path, " is missing; add it to the mirror folder")
    try:
        with gzip.open(path, "rb") as file:
            header = file.read(4 + 4 * dims)
            if len(header) < 4 + 4 * dims or struct.unpack(">I", header[:4])[0] != magic:
                kind = "image" if images else "label"
                raise _bad(path, f" is not an IDX {kind} file (magic {magic}); replace it")
            shape = struct.unpack(f">{dims}I", header[4:])
            if shape != expected_shape:
                said = f" holds {_shape(shape)}, not {_shape(expected_shape)}; replace it"
                raise _bad(path, said)
            body = file.read(size + 1)
    except gzip.BadGzipFile:
        raise _bad(path, " is not a gzip file; replace it") from None
    except (EOFError, zlib.error):
        said = " is truncated or corrupt; replace it"
        raise _bad(path, said) from None
    if len(body) != size:
        more = " or more" if len(body) > size else ""
        said = f" has {len(body)}{more} data bytes, its header says {size}; replace it"
        raise _bad(path, said)
    digest = hashlib.sha256(header + body).hexdigest()
    return np.frombuffer(body, dtype=np.uint8).reshape(shape), digest


def _shape(shape: tuple[int, ...]) -> str:
    said = shape_text(shape)
    return said if len(said) <= 16 else "another shape"


def read_mirror(folder: str | Path, dataset: str = "mnist") -> dict[str, np.ndarray]:
    """Reads and verifies the four IDX files of a mirror.

    Args:
        folder: the mirror folder.
        dataset: the tfds name, to pick the known checksums (when there are any).

    Returns:
        {"train_images": [60000, 28, 28] uint8, "train_labels": [60000] uint8, "test_...": ...}

    Raises:
        PipelineError: naming the file for a missing, non-gzip, truncated, malformed or
            checksum-mismatched file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise _bad(folder, " is not a folder of IDX files; set DATA_MIRROR (or data.mirror)")
    arrays = {}
    for name, file_name in FILES.items():
        path = folder / file_name
        arrays[name], digest = _read_idx(name, path)
        known = KNOWN_SHA256.get(dataset, {}).get(name)
        if known and digest != known:
            said = f" is not {dataset}'s published file (SHA-256); replace it"
            raise _bad(path, said)
    return arrays

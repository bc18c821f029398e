import gzip
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pipeline import mirror
from pipeline.errors import PipelineError

# Canonical MNIST label counts, as published with the dataset (shared/README.md).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_mirror_reads_as_canonical_mnist(mnist):
    assert mnist["train_images"].shape == (60_000, 28, 28)
    assert mnist["test_images"].shape == (10_000, 28, 28)
    assert np.bincount(mnist["train_labels"]).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist["test_labels"]).tolist() == TEST_COUNTS
    scaled = mnist["train_images"] / 255
    # The usual normalisation constants quoted for MNIST's train set.
    assert scaled.mean() == pytest.approx(0.1307, abs=5e-5)
    assert scaled.std() == pytest.approx(0.3081, abs=5e-5)


def _edit(name: str, change: Callable[[bytearray], bytes]) -> Callable[[Path], None]:
    """A damage that rewrites one file's decompressed content as a valid gzip."""

    def damage(folder: Path) -> None:
        path = folder / mirror.FILES[name]
        path.write_bytes(gzip.compress(change(bytearray(gzip.decompress(path.read_bytes())))))

    return damage


def _label_plus_one(content: bytearray) -> bytes:
    content[-1] = (content[-1] + 1) % 10  # a well-formed file with one wrong label
    return bytes(content)


def _label_magic(content: bytearray) -> bytes:
    content[3] = 0x01  # a label file's magic number in an image file
    return bytes(content)


def _truncate(name: str, size: int) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = folder / mirror.FILES[name]
        path.write_bytes(path.read_bytes()[:size])

    return damage


# damage -> (how to do it to a mirror copy, what the error must say)
MIRROR_DAMAGE = {
    "missing": (
        lambda folder: (folder / mirror.FILES["test_labels"]).unlink(),
        "t10k-labels-idx1-ubyte.gz is missing",
    ),
    "not_gzip": (
        lambda folder: (folder / mirror.FILES["train_labels"]).write_bytes(b"<html>404</html>"),
        "train-labels-idx1-ubyte.gz is not a gzip file",
    ),
    "truncated_gzip": (
        _truncate("train_images", 100_000),
        "train-images-idx3-ubyte.gz is truncated or corrupt",
    ),
    "wrong_magic": (
        _edit("test_images", _label_magic),
        "t10k-images-idx3-ubyte.gz is not an IDX image file",
    ),
    "short_body": (
        _edit("test_labels", lambda content: bytes(content[:-10])),
        "t10k-labels-idx1-ubyte.gz has 9990 data bytes",
    ),
    "checksum": (
        _edit("train_labels", _label_plus_one),
        "train-labels-idx1-ubyte.gz decompresses to content whose SHA-256",
    ),
}


@pytest.mark.parametrize("damage", MIRROR_DAMAGE)
def test_each_mirror_problem_names_the_file(broken_mirror, damage):
    spoil, message = MIRROR_DAMAGE[damage]
    spoil(broken_mirror)
    with pytest.raises(PipelineError, match=re.escape(message)):
        mirror.read_mirror(broken_mirror)


def test_other_datasets_skip_mnist_checksums(broken_mirror):
    _edit("train_labels", _label_plus_one)(broken_mirror)
    arrays = mirror.read_mirror(broken_mirror, "fashion_mnist")
    assert arrays["train_labels"].shape == (60_000,)


def test_not_a_folder(tmp_path):
    with pytest.raises(PipelineError, match=r"is not a folder; point DATA_MIRROR"):
        mirror.read_mirror(tmp_path / "nowhere")

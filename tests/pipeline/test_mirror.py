import gzip
import shutil
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


@pytest.fixture
def broken(tmp_path: Path, mirror_dir: Path) -> Path:
    """A writable copy of the mirror for a test to damage."""
    copy = tmp_path / "mirror"
    shutil.copytree(mirror_dir, copy)
    for path in copy.iterdir():
        path.chmod(0o644)
    return copy


def _rewrite(path: Path, content: bytes) -> None:
    path.write_bytes(gzip.compress(content))


def test_missing_file_is_named(broken):
    (broken / mirror.FILES["test_labels"]).unlink()
    with pytest.raises(PipelineError, match=r"t10k-labels-idx1-ubyte.gz is missing"):
        mirror.read_mirror(broken)


def test_not_gzip_is_named(broken):
    (broken / mirror.FILES["train_labels"]).write_bytes(b"<html>not found</html>")
    with pytest.raises(PipelineError, match=r"train-labels-idx1-ubyte.gz is not a gzip file"):
        mirror.read_mirror(broken)


def test_truncated_gzip_is_named(broken):
    path = broken / mirror.FILES["train_images"]
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(PipelineError, match=r"train-images-idx3-ubyte.gz is truncated or corrupt"):
        mirror.read_mirror(broken)


def test_wrong_magic_is_named(broken):
    path = broken / mirror.FILES["test_images"]
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[3] = 0x01  # a label file's magic
    _rewrite(path, bytes(content))
    with pytest.raises(PipelineError, match=r"t10k-images-idx3-ubyte.gz is not an IDX image file"):
        mirror.read_mirror(broken)


def test_short_body_is_named(broken):
    path = broken / mirror.FILES["test_labels"]
    _rewrite(path, gzip.decompress(path.read_bytes())[:-10])
    with pytest.raises(PipelineError, match=r"t10k-labels-idx1-ubyte.gz has 9990 data bytes"):
        mirror.read_mirror(broken)


def test_checksum_mismatch_is_named(broken):
    path = broken / mirror.FILES["train_labels"]
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[-1] = (content[-1] + 1) % 10  # a well-formed file with one wrong label
    _rewrite(path, bytes(content))
    with pytest.raises(PipelineError, match=r"train-labels-idx1-ubyte.gz .* SHA-256"):
        mirror.read_mirror(broken)


def test_other_datasets_skip_mnist_checksums(broken):
    path = broken / mirror.FILES["train_labels"]
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[-1] = (content[-1] + 1) % 10
    _rewrite(path, bytes(content))
    arrays = mirror.read_mirror(broken, "fashion_mnist")
    assert arrays["train_labels"][-1] == content[-1]


def test_not_a_folder(tmp_path):
    with pytest.raises(PipelineError, match=r"is not a folder; point DATA_MIRROR"):
        mirror.read_mirror(tmp_path / "nowhere")

import gzip
import re
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.ingest import mirror
from pipeline.errors import LINE_ROOM, PipelineError
from tests.support.damage import MIRROR_DAMAGE, edit, label_plus_one
from tests.support.fuzz import spoiled

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


@pytest.mark.parametrize("damage", MIRROR_DAMAGE)
def test_each_mirror_problem_names_the_file(broken_mirror, damage):
    spoil, message = MIRROR_DAMAGE[damage]
    spoil(broken_mirror)
    with pytest.raises(PipelineError, match=re.escape(message)) as error:
        mirror.read_mirror(broken_mirror)
    assert len(str(error.value)) <= LINE_ROOM, error.value


def test_a_mirror_deep_in_folders_is_named_by_its_last_ones_and_fits_a_line(tmp_path):
    deep = tmp_path.joinpath(*["a-folder-of-many-letters"] * 8, "mnist")
    deep.mkdir(parents=True)
    for name in ("test_images", "test_labels"):
        (deep / mirror.FILES[name]).write_bytes(_gzipped(struct.pack(">II", 2049, 5) + bytes(5)))
    with pytest.raises(PipelineError) as missing:
        mirror.read_mirror(deep)
    with pytest.raises(PipelineError) as shape:
        mirror._read_idx("test_labels", deep / mirror.FILES["test_labels"])
    with pytest.raises(PipelineError) as magic:
        mirror._read_idx("test_images", deep / mirror.FILES["test_images"])
    with pytest.raises(PipelineError) as nowhere:
        mirror.read_mirror(deep / "nowhere")
    for error in (missing, shape, magic, nowhere):
        said = str(error.value)
        assert len(said) <= LINE_ROOM and ".../" in said and str(tmp_path) not in said, said
    assert "mnist/train-images-idx3-ubyte.gz is missing" in str(missing.value)
    assert "holds 5, not 10000; replace it" in str(shape.value)
    assert "mnist/nowhere is not a folder" in str(nowhere.value)


def test_other_datasets_skip_mnist_checksums(broken_mirror):
    edit("train_labels", label_plus_one)(broken_mirror)
    arrays = mirror.read_mirror(broken_mirror, "fashion_mnist")
    assert arrays["train_labels"].shape == (60_000,)


def test_not_a_folder(tmp_path):
    with pytest.raises(PipelineError, match=r"is not a folder of IDX files; set DATA_MIRROR"):
        mirror.read_mirror(tmp_path / "nowhere")


# ---- hostile mirror files ----

_LABELS = "test_labels"  # the smallest file: 10,000 labels


def _labels_file(body: bytes, magic: int = 2049, count: int = 10_000) -> bytes:
    return struct.pack(">II", magic, count) + body


def _gzipped(content: bytes) -> bytes:
    return gzip.compress(content, mtime=0)


contents = st.one_of(
    st.binary(max_size=40),
    st.builds(
        _labels_file,
        st.one_of(st.just(bytes(10_000)), st.binary(max_size=12_000)),
        st.sampled_from([2049, 2051, 0]),
        st.sampled_from([10_000, 9_999, 2**32 - 1]),
    ),
)
files = st.one_of(st.binary(max_size=200), spoiled(st.builds(_gzipped, contents), reach=400))


@given(files)
def test_any_file_reads_as_the_labels_it_should_hold_or_is_named_as_bad(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / mirror.FILES[_LABELS]
    path.write_bytes(data)
    try:
        labels, _ = mirror._read_idx(_LABELS, path)
    except PipelineError as error:
        said = str(error)
        assert path.name in said and "replace it" in said and len(said) <= LINE_ROOM
    else:
        assert labels.shape == (10_000,) and labels.dtype == np.uint8


def test_a_gzip_bomb_is_refused_reading_no_more_than_the_header_allows(tmp_path):
    # 200 MB of labels behind a valid header, a few hundred KB compressed.
    path = tmp_path / mirror.FILES[_LABELS]
    with gzip.open(path, "wb", compresslevel=1) as file:
        file.write(_labels_file(b""))
        for _ in range(200):
            file.write(bytes(2**20))
    tracemalloc.start()
    try:
        with pytest.raises(PipelineError, match=r"has 10001 or more data bytes, its header says"):
            mirror._read_idx(_LABELS, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # the 10,001 bytes read, not 200 MB

"""The survey of a folder: the schema its headers say (size, channels, class ids as tfds's
ImageFolder gives them), and bad files refused in one line or skipped, as data.bad_files says."""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from components.ingest import folder
from pipeline import images, schema
from pipeline.errors import PipelineError
from tests.support.folder_ingest import (
    GREY,
    good_folder,
    read_folder,
    refused,
    truncate_one,
)
from tests.support.folders import save_png
from tests.support.fuzz import spoiled


def test_class_ids_are_tfds_image_folders(mnist_pngs):
    import tensorflow_datasets as tfds

    theirs = tfds.folder_dataset.ImageFolder(str(mnist_pngs))
    inferred, examples = read_folder(mnist_pngs)
    assert inferred.classes == tuple(theirs.info.features["label"].names)
    assert {s: len(e) for s, e in examples.items()} == {
        s: theirs.info.splits[s].num_examples for s in schema.RAW_SPLITS
    }
    labels = {}
    for row in theirs.as_dataset(split="test", decoders={"image": tfds.decode.SkipDecoding()}):
        relative = Path(row["image/filename"].numpy().decode()).relative_to(mnist_pngs)
        labels[folder.record_key(str(relative).encode())] = int(row["label"])
    assert labels == {key: label for key, _, label in examples["test"]}


def test_colour_anywhere_makes_the_schema_rgb_and_greys_are_converted(tmp_path):
    root = good_folder(tmp_path)
    red = np.zeros((6, 5, 3), np.uint8)
    red[..., 0] = 255
    save_png(red, root / "train" / "cat" / "red.png")
    inferred, examples = read_folder(root)
    assert inferred.channels == 3 and inferred.framing == schema.RESIZE
    images = {key: image for key, image, _ in examples["train"]}
    assert images[folder.record_key(b"train/cat/red.png")][0, 0].tolist() == [255, 0, 0]
    assert images[folder.record_key(b"train/cat/0.png")][0, 0].tolist() == [200, 200, 200]


def test_a_palette_of_greys_and_16_bit_grey_are_grey(tmp_path):
    root = good_folder(tmp_path)
    Image.fromarray(GREY).convert("P").save(root / "train" / "cat" / "p.png")
    Image.fromarray(GREY.astype(np.uint16) * 256).save(root / "train" / "dog" / "deep.png")
    inferred, examples = read_folder(root)
    assert inferred.channels == 1
    images = {key: image for key, image, _ in examples["train"]}
    assert images[folder.record_key(b"train/cat/p.png")].max() == 200
    assert images[folder.record_key(b"train/dog/deep.png")].max() == 200


def test_mixed_sizes_are_refused_naming_files_and_the_param(tmp_path):
    root = good_folder(tmp_path / "data")
    save_png(np.zeros((9, 7), np.uint8), root / "train" / "dog" / "big.png")
    refused(root, "1 of 7 images not 6x5", "train/dog/big.png is 9x7", "data.image_size")


def test_mixed_sizes_resize_to_the_most_common_or_a_given_size(tmp_path):
    root = good_folder(tmp_path)
    save_png(np.zeros((9, 7), np.uint8), root / "train" / "dog" / "big.png")
    inferred, examples = read_folder(root, image_size="most_common")
    assert inferred.image_shape == (6, 5, 1)
    assert {image.shape for e in examples.values() for _, image, _ in e} == {(6, 5, 1)}
    inferred, examples = read_folder(root, image_size=[4, 8])
    assert {image.shape for e in examples.values() for _, image, _ in e} == {(4, 8, 1)}


def test_a_header_claiming_a_huge_image_is_refused_before_decoding(tmp_path):
    root = good_folder(tmp_path / "data")
    data = io.BytesIO()
    Image.new("L", (1, 1)).save(data, format="PNG")
    png = bytearray(data.getvalue())
    png[16:24] = (100_000).to_bytes(4, "big") * 2  # IHDR's width and height: 10^10 pixels
    png[29:33] = zlib.crc32(png[12:29]).to_bytes(4, "big")  # and the chunk's CRC to match
    (root / "train" / "cat" / "bomb.png").write_bytes(bytes(png))
    refused(root, "unreadable: train/cat/bomb.png")
    bomb = root / "train" / "cat" / "bomb.png"
    with pytest.raises(PipelineError, match="too large"), images.reading(bomb):
        pass  # the reason, which the line has no room for


def _png(size: tuple[int, int], mode: str) -> bytes:
    data = io.BytesIO()
    Image.new(mode, size, 128).save(data, format="PNG")
    return data.getvalue()


FILE_BYTES = spoiled(
    st.builds(
        _png,
        st.tuples(st.integers(1, 12), st.integers(1, 12)),
        st.sampled_from(["L", "RGB", "P", "RGBA", "I;16"]),
    ),
    reach=80,
)


@given(
    files=st.lists(
        st.tuples(st.sampled_from(["train/a", "train/b", "test/a", "test/b"]), FILE_BYTES),
        min_size=1,
        max_size=8,
    ),
    skip=st.booleans(),
    size=st.sampled_from(["as_found", "most_common", [5, 7]]),
)
def test_any_folder_reads_or_fails_in_one_line(tmp_path_factory, files, skip, size):
    root = tmp_path_factory.mktemp("fuzz")
    for index, (place, data) in enumerate(files):
        (root / place).mkdir(parents=True, exist_ok=True)
        (root / place / f"{index}.png").write_bytes(data)
    try:
        inferred, examples = read_folder(
            root, bad_files="skip" if skip else "refuse", image_size=size
        )
    except PipelineError as error:
        assert "\n" not in str(error) and str(error).startswith("data.folder ")
        return
    for split in schema.RAW_SPLITS:
        for _, image, label in examples[split]:
            assert image.shape == inferred.image_shape and image.dtype == np.uint8
            assert 0 <= label < inferred.num_classes


def _link_out(root: Path) -> None:
    outside = root.parent / "outside.png"
    save_png(GREY, outside)
    (root / "train" / "cat" / "link.png").symlink_to(outside)


def _fifo(root: Path) -> None:
    os.mkfifo(root / "train" / "cat" / "pipe.png")


BAD_FILES = {
    "not an image": (
        lambda r: (r / "train/cat/notes.txt").write_text("hi"),
        "not images: train/cat/notes.txt",
    ),
    "not image data": (
        lambda r: (r / "train/cat/x.png").write_text("hi"),
        "unreadable: train/cat/x.png",
    ),
    "empty": (lambda r: (r / "train/cat/e.png").write_bytes(b""), "unreadable: train/cat/e.png"),
    "truncated": (truncate_one, "train/cat/cut.png does not read"),
    "link out": (_link_out, "links out: train/cat/link.png"),
    "fifo": (_fifo, "special files: train/cat/pipe.png"),
    "newline in name": (
        lambda r: save_png(GREY, r / "train/cat/a\nb.png"),
        "bad names: train/cat/a\\nb.png",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_is_refused_or_skipped_as_data_bad_files_says(tmp_path, case):
    make, words = BAD_FILES[case]
    root = good_folder(tmp_path / "data")
    make(root)
    refused(root, words, "data.bad_files: skip")
    _, examples = read_folder(root, bad_files="skip")
    assert len(examples["train"]) == 4

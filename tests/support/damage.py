"""Damage done to a copy of the offline mirror, and what each must make ingest say."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

from components.ingest import mirror


def edit(name: str, change: Callable[[bytearray], bytes]) -> Callable[[Path], None]:
    """A damage that rewrites one file's decompressed content as a valid gzip."""

    def damage(folder: Path) -> None:
        path = folder / mirror.FILES[name]
        path.write_bytes(gzip.compress(change(bytearray(gzip.decompress(path.read_bytes())))))

    return damage


def label_plus_one(content: bytearray) -> bytes:
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
        edit("test_images", _label_magic),
        "t10k-images-idx3-ubyte.gz is not an IDX image file",
    ),
    "short_body": (
        edit("test_labels", lambda content: bytes(content[:-10])),
        "t10k-labels-idx1-ubyte.gz has 9990 data bytes",
    ),
    "checksum": (
        edit("train_labels", label_plus_one),
        "train-labels-idx1-ubyte.gz is not mnist's published file (SHA-256)",
    ),
}

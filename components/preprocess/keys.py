"""What an example's key decides in preprocess, the same on any worker and in any run:
whether a train example goes to validation (a seeded hash), and its hash bucket (the
output shard it is written to, the group its key is checked for duplicates in)."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator

import numpy as np


def is_validation(key: bytes, *, fraction: float, seed: int) -> bool:
    """Whether a train example belongs to validation: a seeded hash of its key < fraction."""
    digest = hashlib.sha256(seed.to_bytes(8, "little") + key).digest()
    return int.from_bytes(digest[:8], "little") < fraction * 2**64


def key_buckets(keys: np.ndarray, buckets: int) -> Iterator[tuple[int, np.ndarray]]:
    """(bucket, mask of its keys) for each bucket that has keys: a crc32 of the key, modulo
    `buckets`, so equal keys always land in the same bucket, on any worker and any run."""
    hashed = np.array([zlib.crc32(key) for key in keys], np.uint32) % buckets
    for bucket in np.unique(hashed):
        yield int(bucket), hashed == bucket

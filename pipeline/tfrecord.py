"""TFRecord files: their framing (length, data and masked CRC-32C of each), read and
written without TensorFlow, and finding a split's shard files."""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import google_crc32c

from pipeline import schema
from pipeline.errors import PipelineError


def split_files(directory: str | Path, split: str) -> list[str]:
    """Lists a split's TFRecord shards in `directory`, sorted.

    Raises:
        PipelineError: if there are none, naming the directory and the stage to run.
    """
    files = sorted(str(p) for p in Path(directory).glob(schema.split_pattern(split)))
    if not files:
        raise no_split_error(split, directory)
    return files


def no_split_error(split: str, directory: str | Path) -> PipelineError:
    return PipelineError(
        f"no '{split}' records in {directory}; run the upstream stage first (dvc repro)"
    )


def _masked_crc(data: bytes) -> bytes:
    crc = google_crc32c.value(data)
    return struct.pack("<I", ((crc >> 15 | crc << 17) + 0xA282EAD8) & 0xFFFFFFFF)


@contextlib.contextmanager
def _opened(file: str | Path | BinaryIO, mode: str, **kwargs: Any) -> Iterator[BinaryIO]:
    """A path opened (and closed after); a file object as it is, left to its owner to close."""
    if isinstance(file, str | Path):
        with open(file, mode, **kwargs) as opened:
            yield opened
    else:
        yield file


class CorruptRecordsError(ValueError):
    """A TFRecord file that is truncated or fails its checksums."""


_READ_CHUNK = 1 << 20  # bytes read at a time when a stream cannot say how long it is


def _bytes_left(file: BinaryIO) -> int | None:
    """How many bytes a seekable file has after the current position; None if not seekable."""
    try:
        if not file.seekable():
            return None
        here = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(here)
    except (OSError, ValueError):
        return None
    return end - here


def _read_exactly(file: BinaryIO, length: int) -> bytes:
    """Up to `length` bytes, read in chunks: never more memory than the bytes present."""
    if length <= _READ_CHUNK:
        return file.read(length)
    chunks = []
    while length and (chunk := file.read(min(length, _READ_CHUNK))):
        chunks.append(chunk)
        length -= len(chunk)
    return b"".join(chunks)


def read_tfrecords(source: str | Path | BinaryIO) -> Iterator[bytes]:
    """Yields the records of one uncompressed TFRecord file, checking both CRCs of each.

    A length in a record's header is trusted only as far as the file goes: memory never
    exceeds what the file holds, whatever the header says.

    Args:
        source: a path, or a binary file object (a Beam `ReadableFile.open()`, say).

    Raises:
        CorruptRecordsError: naming the byte offset where the file stops making sense.
    """
    with _opened(source, "rb", buffering=1 << 20) as file:
        size = _bytes_left(file)  # once: seeking would drop the read buffer
        offset = 0
        while header := file.read(12):
            length = _length(header, offset, size)
            record, record_crc = _read_exactly(file, length), file.read(4)
            if len(record) < length or _masked_crc(record) != record_crc:
                raise CorruptRecordsError(f"a truncated or corrupted record at byte {offset}")
            offset += 16 + length
            yield record


def _length(header: bytes, offset: int, size: int | None) -> int:
    """The data length a record's header gives, once its CRC and the file's size allow it."""
    length_bytes, length_crc = header[:8], header[8:]
    if len(header) < 12 or _masked_crc(length_bytes) != length_crc:
        raise CorruptRecordsError(f"a bad record header at byte {offset}")
    (length,) = struct.unpack("<Q", length_bytes)
    if size is not None and offset + 16 + length > size:
        raise CorruptRecordsError(
            f"a record at byte {offset} says it holds {length} bytes; "
            f"the file has {max(size - offset - 16, 0)} left"
        )
    return length


def count_records(path: str | Path) -> int:
    """The records of a TFRecord file, counted by walking their headers alone.

    TensorFlow's reader trusts a length header (with a valid CRC) whatever the file's size,
    and a hostile one makes it allocate terabytes or crash: files it reads are walked here
    first. The records' data and their CRCs are left to the reader.

    Raises:
        CorruptRecordsError: naming the byte offset where the framing stops making sense.
    """
    with open(path, "rb", buffering=0) as file:
        size = _bytes_left(file)
        offset = count = 0
        while header := file.read(12):
            offset += 16 + _length(header, offset, size)
            file.seek(offset)
            count += 1
    return count


def write_tfrecords(target: str | Path | BinaryIO, records: Iterable[bytes]) -> int:
    """Writes records as one uncompressed TFRecord file; returns how many.

    The same bytes `tf.io.TFRecordWriter` writes (length, masked CRC-32C of it, data,
    masked CRC-32C of the data), without importing TensorFlow or a call per record into it.

    Args:
        target: a path, or a binary file object (a Beam `FileSystems.create()`, say).
    """
    count = 0
    with _opened(target, "wb") as out:
        for record in records:
            length = struct.pack("<Q", len(record))
            out.write(length + _masked_crc(length) + record + _masked_crc(record))
            count += 1
    return count

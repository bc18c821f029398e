"""Small I/O helpers every stage uses: atomic outputs, JSON, finding a split's files."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import google_crc32c

from pipeline import schema
from pipeline.errors import PipelineError

TMP_MARK = ".tmp-"


def _temp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_stale_temps(path: Path) -> None:
    """Removes temp siblings of `path` left by a run that was killed."""
    for stale in path.parent.glob(f".{path.name}{TMP_MARK}*"):
        remove(stale)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yields a temp path beside `path`; on success renames it to `path`, else deletes it.

    Readers (DVC, the next stage) see either the old output or the complete new one,
    never a half-written one. A run killed mid-way leaves only a hidden temp sibling,
    which the next run removes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    temp = _temp_sibling(path)
    try:
        yield temp
    except BaseException:
        remove(temp)
        raise
    if path.is_dir() and not path.is_symlink():
        # A directory cannot be renamed over a non-empty one: move the old one aside first.
        old = path.with_name(f".{path.name}{TMP_MARK}old-{os.getpid()}")
        path.rename(old)
        temp.rename(path)
        remove(old)
    else:
        temp.replace(path)


@contextlib.contextmanager
def atomic_output_dir(path: str) -> Iterator[str]:
    """atomic_output for a folder on any Beam filesystem (local, gs://, s3://, ...).

    Yields a temp folder beside `path`; on success it replaces `path`, else it is deleted.
    On a local disk that is atomic_output's rename of the whole folder, so readers see the
    old folder or the new one. An object store has no folders to rename: there the old
    files are deleted and the new ones renamed into place one by one.
    """
    from apache_beam.io.filesystems import FileSystems  # only Beam's stages pay for Beam
    from apache_beam.io.localfilesystem import LocalFileSystem

    if isinstance(FileSystems.get_filesystem(path), LocalFileSystem):
        with atomic_output(path) as temp:
            temp.mkdir()
            yield str(temp)
        return

    def files(folder: str) -> list[str]:
        pattern = FileSystems.join(folder, "**")
        return [m.path for m in FileSystems.match([pattern])[0].metadata_list]

    temp = f"{path.rstrip('/')}{TMP_MARK}{os.getpid()}"
    try:
        yield temp
    except BaseException:
        FileSystems.delete(files(temp))
        raise
    FileSystems.delete(files(path))
    new = files(temp)
    FileSystems.rename(new, [path.rstrip("/") + name[len(temp) :] for name in new])


def write_json(path: str | Path, data: Any) -> None:
    """Writes `data` as indented, key-sorted JSON, atomically."""
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def require(path: str | Path, producer: str) -> Path:
    """Returns `path` if it exists, else fails naming the stage that writes it."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path} not found; run the {producer} stage first (dvc repro)")
    return path


def latest_version(base: str | Path) -> Path | None:
    """The highest-numbered version folder under a serving folder (TF Serving's pick)."""
    base = Path(base)
    numbered = [p for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
    return max(numbered, key=lambda p: int(p.name), default=None)


def split_files(directory: str | Path, split: str) -> list[str]:
    """Lists a split's TFRecord shards in `directory`, sorted.

    Raises:
        PipelineError: if there are none, naming the directory and the stage to run.
    """
    files = sorted(str(p) for p in Path(directory).glob(schema.split_pattern(split)))
    if not files:
        raise PipelineError(
            f"no '{split}' records in {directory}; run the upstream stage first (dvc repro)"
        )
    return files


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
            length_bytes, length_crc = header[:8], header[8:]
            if len(header) < 12 or _masked_crc(length_bytes) != length_crc:
                raise CorruptRecordsError(f"a bad record header at byte {offset}")
            (length,) = struct.unpack("<Q", length_bytes)
            if size is not None and offset + 16 + length > size:
                raise CorruptRecordsError(
                    f"a record at byte {offset} says it holds {length} bytes; "
                    f"the file has {max(size - offset - 16, 0)} left"
                )
            record, record_crc = _read_exactly(file, length), file.read(4)
            if len(record) < length or _masked_crc(record) != record_crc:
                raise CorruptRecordsError(f"a truncated or corrupted record at byte {offset}")
            offset += 16 + length
            yield record


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

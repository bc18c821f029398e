"""Stage outputs: written atomically (a temp sibling renamed into place), JSON, inputs required."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def write_text(path: str | Path, text: str) -> None:
    """Writes `text` to `path`, atomically."""
    with atomic_output(path) as temp:
        temp.write_text(text)


def write_json(path: str | Path, data: Any) -> None:
    """Writes `data` as indented, key-sorted JSON, atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def require(path: str | Path, producer: str) -> Path:
    """Returns `path` if it exists, else fails naming the stage that writes it."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path} not found; run the {producer} stage first (dvc repro)")
    return path

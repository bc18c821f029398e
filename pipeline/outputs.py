"""Stage outputs: written atomically (a temp sibling renamed into place), JSON, inputs required."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pipeline.errors import PipelineError

TMP_MARK = ".tmp-"
_LOCK = "lock"  # `.<name>.tmp-lock`: held by the run writing <name>, removed by it


def _temp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[IO]:
    """Holds `path`'s lock file while the block runs: a second run writing the same output
    refuses at once (PipelineError), rather than delete the first one's temp mid-run. The
    lock is the kernel's (flock), held while any process has the file yielded open: a run
    that is killed releases it, unless it gave the file to processes that still run."""
    lock = path.with_name(f".{path.name}{TMP_MARK}{_LOCK}")
    while True:
        file = open(lock, "a")  # noqa: SIM115 (held open as the lock, closed below)
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise PipelineError(
                f"another run is writing {path} now (it holds {lock}); wait for it to end, or "
                "stop it, and run again"
            ) from None
        # The run before may have removed the file between our open and our lock: then
        # the lock is on a file nobody else will find. Take the one at the path.
        if lock.exists() and os.fstat(file.fileno()).st_ino == lock.stat().st_ino:
            break
        file.close()
    try:
        yield file
    finally:
        lock.unlink(missing_ok=True)  # while still held: the next run makes its own
        file.close()


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_stale_temps(path: Path) -> None:
    """Removes temp siblings of `path` left by a run that was killed."""
    for stale in path.parent.glob(f".{path.name}{TMP_MARK}*"):
        if not stale.name.endswith(TMP_MARK + _LOCK):
            remove(stale)


@contextlib.contextmanager
def atomic_output(path: str | Path, *, exclusive: bool = False) -> Iterator[Path]:
    """Yields a temp path beside `path`; on success renames it to `path`, else deletes it.

    Readers (DVC, the next stage) see either the old output or the complete new one,
    never a half-written one. A run killed mid-way leaves only a hidden temp sibling,
    which the next run removes.

    Args:
        exclusive: for a stage's own outputs: a second run writing `path` at the same time
            fails at once (PipelineError) instead.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(path) if exclusive else contextlib.nullcontext():
        remove_stale_temps(path)
        temp = _temp_sibling(path)
        try:
            yield temp
        except BaseException:
            remove(temp)
            raise
        _replace(path, temp)


def _replace(path: Path, temp: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        # A directory cannot be renamed over a non-empty one: move the old one aside first.
        old = path.with_name(f".{path.name}{TMP_MARK}old-{os.getpid()}")
        path.rename(old)
        temp.rename(path)
        remove(old)
    else:
        temp.replace(path)


def keep_others(old: str | Path, new: Path) -> None:
    """The files of folder `old` that the folder `new` replacing it lacks, linked (or copied)
    into `new`: a stage that replaces its folder keeps what others wrote there, as
    mnist-audit's report in reports/."""
    old = Path(old)
    if not old.is_dir():
        return
    for entry in old.iterdir():
        target = new / entry.name
        if not entry.is_file() or entry.is_symlink() or target.exists():
            continue
        try:
            os.link(entry, target)
        except OSError:  # another filesystem, or one without links
            shutil.copy2(entry, target)


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
        with atomic_output(path, exclusive=True) as temp:
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
    """Writes `data` as indented, key-sorted, standard JSON (never NaN), atomically.

    Raises:
        ValueError: for a value JSON cannot hold: NaN or an infinity.
    """
    write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


MAX_REPORT_BYTES = 1 << 20  # stats.json, a push record, a report: kilobytes, never this


def read_report(path: str | Path, limit: int = MAX_REPORT_BYTES) -> Any:
    """A small JSON file a stage wrote, read as the input it has become: only a regular
    file, at most `limit` bytes, standard JSON.

    Raises:
        FileNotFoundError: if there is no such file.
        ValueError: for anything else that is not such a file, saying what.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ValueError("not a regular file")
    with open(path, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except RecursionError:
        raise ValueError("nested too deep") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def require(path: str | Path, producer: str) -> Path:
    """Returns `path` if it exists, else fails naming the stage that writes it."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path} not found; run the {producer} stage first (dvc repro)")
    return path

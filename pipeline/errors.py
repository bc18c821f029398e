"""The one exception type a user can act on, and recognising the environment's own errors
(a full disk, a folder the run may not write) in whatever a library wrapped them in."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_NO_WRITE = {errno.EACCES, errno.EPERM, errno.EROFS}
# How the same errors read once a library has turned them into its own (TensorFlow's, Beam's).
_DISK_FULL_WORDS = ("No space left on device", "File too large", "Disk quota exceeded")
_NO_WRITE_WORDS = ("Read-only file system", "Permission denied", "Operation not permitted")
# Characters a one-line error has: a line is 120 columns, less pipeline.logs's log prefix.
LINE_ROOM = 95


class PipelineError(Exception):
    """Bad input the user can fix. The message names the problem and the fix.

    Stage entry points turn it into one log line and exit status 1, with no traceback.
    Where the line cuts a longer story short (a library's error, a worker's traceback),
    `evidence` keeps all of it, for the entry point to write where a developer finds it.
    """

    def __init__(self, message: str, *, evidence: str | None = None):
        super().__init__(message)
        self.evidence = evidence


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and its causes and contexts, each once."""
    cause: BaseException | None = error
    seen = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


def _found(
    error: BaseException, codes: set[int], words: tuple[str, ...]
) -> tuple[str | None, str] | None:
    """(file, the system's words) of the first error in `error`'s chain with one of `codes`,
    or whose text holds one of `words` (a library's wrapping has no file); else None."""
    for cause in _chain(error):
        if isinstance(cause, OSError) and cause.errno in codes:
            return cause.filename, cause.strerror
        if said := next((w for w in words if w in str(cause)), None):
            return None, said
    return None


def environment_error(error: BaseException, where: str | None = None) -> PipelineError | None:
    """The user's error for a write that found no room (a full disk, a quota, a file size
    limit) or no permission (a read-only folder or file system), wherever in `error`'s
    chain it happened; None for any other error.

    Args:
        where: what was being written, for errors a library has wrapped without a file name.
    """
    untouched = "and run the stage again: its previous output is untouched"
    if found := _found(error, _DISK_FULL, _DISK_FULL_WORDS):
        file, said = found
        file = file or where
        where = f" writing {file}" if file else ""
        return PipelineError(
            f"no room to write the output{where} ({said}); free some disk space (or raise the "
            f"file size limit) {untouched}"
        )
    if found := _found(error, _NO_WRITE, _NO_WRITE_WORDS):
        file, said = found
        file = file or where
        return PipelineError(
            f"cannot write {file or 'the output'} ({said}); make its folder writable {untouched}"
        )
    return None


def shown(value: Any, limit: int = 60) -> str:
    """`value` as a message shows it: its repr, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]}"


def escaped(name: str | os.PathLike[str]) -> str:
    """A file's name or path on one line, unambiguously: a backslash doubled, each byte that
    is not UTF-8 as \\xNN, each control or format character escaped (a newline as \\n);
    printable characters of any script as they are."""
    return "".join(map(_escaped_char, os.fsencode(name).decode("utf-8", "surrogateescape")))


def _escaped_char(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if "\udc80" <= char <= "\udcff":  # an undecodable byte, as surrogateescape keeps it
        return f"\\x{ord(char) - 0xDC00:02x}"
    return char if char.isprintable() else char.encode("unicode_escape").decode("ascii")


def shown_path(path: str | os.PathLike[str], limit: int = 48) -> str:
    """`path` as a message names it (`escaped`), short enough to leave the message room on
    its line: relative to the working folder (the project's root, where DVC runs a stage) or
    to the project DVC runs an experiment for (DVC_ROOT) when under either; else, past `limit`
    characters, its last components after `.../`, and a file name longer than that cut in
    the middle (its start and its extension kept, so the user can still find it)."""
    absolute, text = os.path.abspath(path), os.fspath(path)
    roots = [os.path.abspath(root) for root in (os.getcwd(), os.environ.get("DVC_ROOT")) if root]
    if inside := [root for root in roots if os.path.commonpath([absolute, root]) == root]:
        text = os.path.relpath(absolute, inside[0])
    text = escaped(text)
    if len(text) <= limit:
        return text
    parts = Path(text).parts
    tail = parts[-1]
    if len(tail) > limit - 4:
        _, dot, suffix = tail.rpartition(".")
        end = f"{dot}{suffix}" if dot and len(suffix) < 10 else tail[-8:]
        return f".../{tail[: limit - 7 - len(end)]}...{end}"
    for part in reversed(parts[:-1]):
        if len(part) + 1 + len(tail) > limit - 4:
            break
        tail = f"{part}/{tail}"
    return f".../{tail}"


def fitted(before: str, path: str | os.PathLike[str], after: str, room: int = LINE_ROOM) -> str:
    """A one-line message naming `path`, shown (`shown_path`) in what `room` (by default a
    one-line error's) the rest of the message leaves it, and never in fewer than 16
    characters."""
    return f"{before}{shown_path(path, max(room - len(before) - len(after), 16))}{after}"

"""The one exception type a user can act on, and recognising the environment's own errors
(a full disk, a folder the run may not write) in whatever a library wrapped them in."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_NO_WRITE = {errno.EACCES, errno.EPERM, errno.EROFS}
# How the same errors read once a library has turned them into its own (TensorFlow's, Beam's).
_DISK_FULL_WORDS = ("No space left on device", "File too large", "Disk quota exceeded")
_NO_WRITE_WORDS = ("Read-only file system", "Permission denied", "Operation not permitted")


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

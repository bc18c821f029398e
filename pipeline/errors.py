"""The one exception type a user can act on, and recognising a full disk."""

from __future__ import annotations

import errno

_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
# How the same errors read once a library has turned them into its own (TensorFlow's, Beam's).
_DISK_FULL_WORDS = ("No space left on device", "File too large", "Disk quota exceeded")


class PipelineError(Exception):
    """Bad input the user can fix. The message names the problem and the fix.

    Stage entry points turn it into one log line and exit status 1, with no traceback.
    """


def disk_full(error: BaseException) -> PipelineError | None:
    """The user's error for a write that found no room (a full disk, a quota, a file size
    limit), wherever in `error`'s chain it happened; None for any other error."""
    cause: BaseException | None = error
    seen = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno in _DISK_FULL:
            where = f" writing {cause.filename}" if cause.filename else ""
            return _no_room(f"{where} ({cause.strerror})")
        if any(words in str(cause) for words in _DISK_FULL_WORDS):
            said = next(words for words in _DISK_FULL_WORDS if words in str(cause))
            return _no_room(f" ({said})")
        cause = cause.__cause__ or cause.__context__
    return None


def _no_room(detail: str) -> PipelineError:
    return PipelineError(
        f"no room to write the output{detail}; free some disk space (or raise the file size "
        "limit) and run the stage again: its previous output is untouched"
    )

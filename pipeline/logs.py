"""How the project's lines look: a short prefix, within WIDTH columns, in any encoding."""

from __future__ import annotations

import logging
import sys

# Every line the project prints fits WIDTH columns: its own prefix is kept short (the time
# of day; the stage or tool by its own name, not its package's), so the message has room.
WIDTH = 120
_OWN_PACKAGES = ("components.", "tools.")


class _Formatter(logging.Formatter):
    """`12:48:27 INFO train: ...`: a record's time, level, short logger name and message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(short_name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        name = record.name
        record.short_name = next(
            (name.removeprefix(p) for p in _OWN_PACKAGES if name.startswith(p)), name
        )
        return super().format(record)


def setup_logging(level: int = logging.INFO) -> None:
    """Logs to stderr in the project's format. For process entry points only."""
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)


def message_room(logger: logging.Logger, level: int = logging.WARNING) -> int:
    """The characters a message of `logger` at `level` has on a line of WIDTH."""
    record = logging.LogRecord(logger.name, level, "", 0, "", None, None)
    return WIDTH - len(_Formatter().format(record))


def escape_unencodable_output() -> None:
    """Writes a character the output's encoding lacks as Python's backslash escape (`\\xe9`,
    `\\u0663`), as Python itself writes stderr, rather than failing: a file or class name in
    any script reaches an ASCII-only terminal (`LANG=C`, `PYTHONIOENCODING=ascii`) as an
    escape. For process entry points only."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # not when a test or a caller has replaced it
            stream.reconfigure(errors="backslashreplace")

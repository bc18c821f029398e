"""The versions the server serves, kept as the base folder holds them while it runs.

TF Serving's version policy `all`: every version folder under the base that loads is
served and addressable by number, the highest by default. A watcher thread looks at the
base folder every POLL_SECONDS. Polling is simpler than inotify and as quick as the 2 s a
push may take to serve, and it sees what inotify misses: network and bind-mounted file
systems, and a folder replaced while no watch was set on it.

A version is loaded fully (loader.load_version: its interpreter built, an example answered)
before the served set is replaced by a new one that holds it, in one assignment: a request
reads the set once, so it is answered by a whole version, the old set's or the new one's,
never by one half loaded. A push renames a complete folder into place (its temp folder is a
hidden name, no version), so a half-written folder is never taken for a version; a folder
that does not load is logged once, in one line, and skipped (tried again if its files
change), and the versions already served keep serving.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from pathlib import Path

from components.evaluate import serving, version_names
from components.evaluate.loader import Version, load_version
from pipeline.errors import PipelineError, shown_path

logger = logging.getLogger(__package__)

POLL_SECONDS = 0.5
_FILES = ("", serving.SAVED_MODEL, serving.TFLITE_MODEL, serving.SCHEMA)  # what a load reads


@dataclasses.dataclass(frozen=True)
class Served:
    """The versions served at one moment, by number; `failed`: why a folder is not served."""

    loaded: dict[int, Version]
    failed: dict[int, str]

    def default(self) -> Version | None:
        """The version answering requests that name none: the highest loaded."""
        return self.loaded[max(self.loaded)] if self.loaded else None


def _identity(folder: Path) -> tuple:
    """What changes when a version folder's files do: each one's inode, time and size."""
    found = []
    for name in _FILES:
        try:
            info = os.stat(folder / name)
            found.append((info.st_ino, info.st_mtime_ns, info.st_size))
        except OSError:
            found.append(None)
    return tuple(found)


def _said(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


class Versions:
    """The served versions of the base folder `base`, reloaded by `poll` (or `watch`)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.served = Served({}, {})
        self._seen: dict[int, tuple] = {}  # each version's folder identity when last loaded
        self._stop = threading.Event()

    def poll(self) -> None:
        """Loads the versions added or changed since the last poll, drops the ones removed,
        and swaps the new set in at once."""
        found = version_names.listed(self.base).numbered
        old = self.served
        loaded = {n: v for n, v in old.loaded.items() if n in found}
        failed = {n: why for n, why in old.failed.items() if n in found}
        for number, folder in found.items():
            identity = _identity(folder)
            if self._seen.get(number) == identity:
                continue
            self._seen[number] = identity
            started = time.monotonic()
            try:
                loaded[number] = load_version(folder, number=number)
            except Exception as error:  # whatever a folder holds, it fails alone
                said = str(error) if isinstance(error, PipelineError) else _said(error)
                failed[number] = (said.splitlines() or [type(error).__name__])[0][:300]
                loaded.pop(number, None)
                logger.warning("version %d not served: %s", number, failed[number])
                continue
            failed.pop(number, None)
            logger.info(
                "version %d serves, from %s (loaded in %.2f s)",
                number,
                shown_path(folder),
                time.monotonic() - started,
            )
        for number in set(self._seen) - set(found):
            del self._seen[number]
            logger.info("version %d removed: no longer served", number)
        if loaded != old.loaded or failed != old.failed:
            self.served = Served(loaded, failed)

    def watch(self) -> threading.Thread:
        """Polls in a daemon thread every POLL_SECONDS until `stop`."""

        def run() -> None:
            while not self._stop.wait(POLL_SECONDS):
                try:
                    self.poll()
                except Exception as error:  # a base folder gone or unreadable: try again
                    said = _said(error).splitlines()[0][:200]
                    logger.warning("cannot read %s (%s); trying again", shown_path(self.base), said)

        thread = threading.Thread(target=run, name="mnist-serve-watcher", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

"""Which files mnist-predict reads, found as it goes, and how their names are shown."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline import images


def find_images(paths: Iterable[str]) -> Iterator[Path]:
    """The given files, then the image files inside given folders, found as they are read:
    folders depth first, names sorted. Iterative (a folder any depth deep is walked), and
    links to folders are not followed (a link loop cannot trap the walk)."""
    suffixes = images.suffixes()
    for name in paths:
        path = Path(name)
        if not path.is_dir():
            yield path
            continue
        folders = [path]
        while folders:
            folder = folders.pop()
            try:
                entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
            except OSError:
                yield folder  # it gets its own error line, like any file that cannot be read
                continue
            for entry in entries:
                if entry.is_file() and Path(entry.name).suffix.lower() in suffixes:
                    yield Path(entry.path)
            below = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
            folders.extend(reversed(below))

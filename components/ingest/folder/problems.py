"""What a folder dataset's walk found wrong, collected in one place and refused in one line.

Problems of the layout (a folder inside a class folder, a bad class name) are refused
whatever `data.bad_files` says; bad files (not images, unreadable, special, links out of the
folder, bad names) are refused under `refuse` and counted under `skip`. Each kind names its
first few places (the first with its detail), counts the rest, and says its fix.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from pipeline.errors import PipelineError, escaped, shown_path

NAMED = 3  # places an error line names of each kind
SKIP_HINT = ", or set data.bad_files: skip"


def shown_root(root: Path) -> str:
    """The folder as its user knows it: relative to the project when inside it (the working
    folder, which in an experiment is DVC's temp copy of it), else whole."""
    return shown_path(root, limit=sys.maxsize)


def refusal(root: Path, said: str) -> PipelineError:
    """The one line refusing the folder `root`: `data.folder <root>: <said>`."""
    return PipelineError(f"data.folder {shown_root(root)}: {said}")


def shown_place(place: str) -> str:
    """A path below the folder (`train/cat/0.png`, a folder's with its `/`) as a message names
    it (pipeline.errors.escaped)."""
    return escaped(place)


@dataclasses.dataclass
class _Kind:
    layout: bool  # refused whatever data.bad_files says
    places: list[str] = dataclasses.field(default_factory=list)
    count: int = 0


class Problems:
    """Every problem of one walk of the folder at `root`, by kind and fix, in the order found.

    Args:
        skip: `data.bad_files: skip`: bad files are counted in `skipped`, not refused.
    """

    def __init__(self, root: Path, skip: bool):
        self.root, self.skip, self.skipped = root, skip, 0
        self._kinds: dict[tuple[str, str], _Kind] = {}

    def layout(self, kind: str, place: str, fix: str, detail: str = "") -> None:
        """A problem of the layout at `place` (below the folder), refused in any case."""
        self._add(_Kind(True), kind, place, fix, detail)

    def bad(self, kind: str, place: str, fix: str, detail: str = "") -> None:
        """A bad file at `place`: refused, or skipped and counted (data.bad_files)."""
        if self.skip:
            self.skipped += 1
        else:
            self._add(_Kind(False), kind, place, fix + SKIP_HINT, detail)

    def _add(self, new: _Kind, kind: str, place: str, fix: str, detail: str) -> None:
        found = self._kinds.setdefault((kind, fix), new)
        found.count += 1
        if len(found.places) < NAMED:
            shown = shown_place(place)
            found.places.append(f"{shown} ({detail})" if detail and not found.places else shown)

    def raise_any(self) -> None:
        """Refuses the folder for the problems found so far, the layout's before bad files'.

        Raises:
            PipelineError: one line naming each kind, a few of its places, and its fix.
        """
        told = [k for k, found in self._kinds.items() if found.layout] or list(self._kinds)
        if told:
            raise refusal(self.root, "; ".join(map(self._told, told)))

    def _told(self, kind_fix: tuple[str, str]) -> str:
        found = self._kinds[kind_fix]
        more = found.count - len(found.places)
        named = ", ".join(found.places) + (f" and {more} more" if more else "")
        return f"{kind_fix[0]}: {named}; {kind_fix[1]}"

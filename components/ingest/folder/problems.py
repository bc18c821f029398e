"""What a folder dataset's walk found wrong, collected in one place and refused in one line.

Problems of the layout (a folder inside a class folder, a bad class name) are refused
whatever `data.bad_files` says; bad files (not images, unreadable, special, links out of the
folder, bad names) are refused under `refuse` and counted under `skip`. Each kind names its
first few places (the first with its detail), counts the rest, and says its fix.

Every refusal fits a line of 120 columns as logged (pipeline.errors.LINE_ROOM), whatever the
names: past its room, a line names fewer places, then cuts the folder's name (pipeline.
errors.shown_path), leaves out the details, cuts the places' names down to their last
component, and past that the one place it names, keeping the kind of problem and its fix
whole.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import LINE_ROOM, PipelineError, escaped, shown_path

NAMED = 3  # places an error line names of each kind
SKIP_HINT = " or set data.bad_files: skip"  # after the fix: "remove or set ..."
# As far as a line needs: the characters the folder's name is cut to, the characters a
# place's name is cut to, and whether the places' details are said.
_CUTS = (
    (sys.maxsize, sys.maxsize, True),
    (16, sys.maxsize, True),
    (16, sys.maxsize, False),
    (16, 32, False),
    (16, 16, False),
    (16, 0, False),  # a place by its last name alone: .../0001.png
)
_REST = (" and {} more", " (+{})")  # the places a line counts, not names; the terser last


def _cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut in the middle: its start and its end kept."""
    if len(text) <= limit:
        return text
    end = (limit - 3) // 2
    return f"{text[: limit - 3 - end]}...{text[len(text) - end :]}"


@dataclasses.dataclass(frozen=True)
class Place:
    """A path below the folder a line names (`train/cat/0.png`; a folder's ends in `/`), what
    the line says after it (`after`: " is 9x7") and what went wrong there (`detail`, said in
    brackets)."""

    path: str
    detail: str = ""
    after: str = ""

    @property
    def name(self) -> str:
        return Path(self.path).name

    def shown(self, limit: int = sys.maxsize, details: bool = True) -> str:
        """The place, its name (and its detail) cut to `limit` characters; with 0, its last
        name alone."""
        folder = "/" if self.path.endswith("/") else ""
        detail = f" ({_cut(escaped(self.detail), limit)})" if self.detail and details else ""
        name = shown_path(self.path, limit) if limit else f".../{_cut(escaped(self.name), 16)}"
        return f"{name}{folder}{self.after}{detail}"


def refusal(
    root: Path,
    head: str,
    places: Sequence[Place] = (),
    tail: str = "",
    count: int = 0,
    aside: str = "",
) -> PipelineError:
    """The one line refusing the folder `root`: `data.folder <root>: <head><places><tail>`,
    the places of `count` (all given, by default) named first to last and the rest counted,
    then `aside` where there is room for it; within LINE_ROOM (above)."""
    count = max(count, len(places))
    for said, rest, (cut, limit, details), named in itertools.product(
        dict.fromkeys([aside, ""]), _REST, _CUTS, range(len(places), 0, -1) or [0]
    ):
        start = f"data.folder {shown_path(root, cut)}: {head}"
        more = rest.format(count - named) if count > named else ""
        shown = ", ".join(place.shown(limit, details) for place in places[:named])
        if len(line := f"{start}{shown}{more}{tail}{said}") <= LINE_ROOM:
            return PipelineError(line)
    room = LINE_ROOM - len(start) - len(more) - len(tail)
    if room >= 16:  # the one place named, cut to the room the rest leaves it
        return PipelineError(f"{start}{_cut(shown, room)}{more}{tail}")
    return PipelineError(_cut(line, LINE_ROOM))


@dataclasses.dataclass
class _Kind:
    layout: bool  # refused whatever data.bad_files says
    places: list[Place] = dataclasses.field(default_factory=list)
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
        self._add(_Kind(True), kind, Place(place, detail), fix)

    def bad(self, kind: str, place: str, fix: str, detail: str = "") -> None:
        """A bad file at `place`: refused, or skipped and counted (data.bad_files)."""
        if self.skip:
            self.skipped += 1
        else:
            self._add(_Kind(False), kind, Place(place, detail), fix + SKIP_HINT)

    def _add(self, new: _Kind, kind: str, place: Place, fix: str) -> None:
        found = self._kinds.setdefault((kind, fix), new)
        found.count += 1
        if len(found.places) < NAMED:
            found.places.append(place if not found.places else Place(place.path))

    def raise_any(self) -> None:
        """Refuses the folder for the problems found so far, the layout's before bad files':
        every kind if the line has room for them all, else the first and a count of the rest.

        Raises:
            PipelineError: one line naming a kind, a few of its places, and its fix.
        """
        told = [k for k, found in self._kinds.items() if found.layout] or list(self._kinds)
        if not told:
            return
        whole = f"data.folder {shown_path(self.root)}: {'; '.join(map(self._told, told))}"
        if len(whole) <= LINE_ROOM:
            raise PipelineError(whole)
        (kind, fix), first = told[0], self._kinds[told[0]]
        others = sum(self._kinds[kind_fix].count for kind_fix in told[1:])
        rest = f"; and {others} other problem{'s' if others > 1 else ''}" if others else ""
        raise refusal(self.root, f"{kind}: ", first.places, f"; {fix}", first.count, rest)

    def _told(self, kind_fix: tuple[str, str]) -> str:
        found = self._kinds[kind_fix]
        more = found.count - len(found.places)
        named = ", ".join(place.shown() for place in found.places)
        return f"{kind_fix[0]}: {named}{f' and {more} more' if more else ''}; {kind_fix[1]}"

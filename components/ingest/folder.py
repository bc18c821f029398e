"""The folder side of ingest: a folder of labelled images, checked whole, then read.

    <folder>/train/<class name>/<image files>
    <folder>/test/<class name>/<image files>

The layout and the class ids are those of tfds's `ImageFolder` (ids by class name, sorted),
but the folder is read as hostile input, which ImageFolder does not do (it follows links,
reads hidden folders as classes, hangs on a FIFO and holds every path in memory twice; see
docs/own-data.md). Two passes, each holding one class folder's names and one image at a
time, so memory stays flat however many files there are:

- `survey` checks every name and file and reads every image's header (size and mode, no
  pixels): any problem of the layout ends it in one line; files that are not images, or
  whose header does not read, are refused (`data.bad_files: refuse`) or skipped and
  counted (`skip`). From the headers it infers the `Schema`: the size (by
  `data.image_size`), the channels (grey if every image is, else RGB), the class names.
- `examples` decodes each image into the schema's size and channels (pipeline.images),
  and yields it with its key (`record_key`): a hash of the file's path below the folder,
  then the path (b"5d41402a:train/cat/0001.png").
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline import images, schema
from pipeline.errors import PipelineError, shown_path
from pipeline.params import AS_FOUND, IMAGES_FOLDER, MOST_COMMON, NO_FOLDER, SKIP, DataParams

logger = logging.getLogger(__package__)

NAMED = 3  # offending files an error line names
_SKIP_HINT = ", or set data.bad_files: skip"
CLASS_NAMES = "letters, digits, _, -, + and inner spaces, up to 64 characters"
_PROGRESS_S = 10.0  # seconds between two lines of progress


class _Problems:
    """Problems, by kind: the first few places named (the first with its detail), all
    counted, and the fix; raised as one line."""

    def __init__(self, root: Path):
        self.root = root
        self.places: dict[tuple[str, str], list[str]] = {}
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def add(self, kind: str, place: str, fix: str, detail: str = "") -> None:
        self.counts[kind, fix] += 1
        if len(named := self.places.setdefault((kind, fix), [])) < NAMED:
            named.append(f"{place} ({detail})" if detail and not named else place)

    def raise_any(self) -> None:
        if self.counts:
            told = "; ".join(map(self._told, self.counts))
            raise PipelineError(f"data.folder {_named(self.root)}: {told}")

    def _told(self, kind_fix: tuple[str, str]) -> str:
        more = self.counts[kind_fix] - len(self.places[kind_fix])
        named = ", ".join(self.places[kind_fix]) + (f" and {more} more" if more else "")
        return f"{kind_fix[0]}: {named}; {kind_fix[1]}"


class _Progress:
    """Logs a line of progress when _PROGRESS_S have passed since the last."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def show(self, message: str, *args: object) -> None:
        if time.monotonic() - self.last > _PROGRESS_S:
            logger.info(message, *args)
            self.last = time.monotonic()


def _shown(name: str) -> str:
    """A name on one line: control characters escaped, bytes that are not UTF-8 as \\xNN."""
    return (
        name.encode("unicode_escape", "backslashreplace").decode("ascii")
        if not (name.isprintable() and name.encode("utf-8", "surrogateescape").isascii())
        else name
    )


def _named(root: Path) -> str:
    """The folder as its user knows it: relative to the project (the working folder, which in
    an experiment is DVC's temp copy of it) when inside it, else whole; escaped as names are."""
    return _shown(shown_path(root, limit=sys.maxsize))  # the path's own length, never cut


def _file_name_problem(name: str) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "file names that are not UTF-8"
    if not name.isprintable():
        return "file names holding a control character"
    return None


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as found:
        return sorted((entry for entry in found if not entry.name.startswith(".")), key=_name)


def _name(entry: os.DirEntry) -> str:
    return entry.name


def _check_root(root: Path) -> None:
    fix = "set data.folder to a folder holding train/<class>/<images> and test/<class>/<images>"
    if not root.exists():
        raise PipelineError(f"data.folder {_named(root)}: no such folder; {fix}")
    if not root.is_dir():
        raise PipelineError(f"data.folder {_named(root)}: not a folder; {fix}")
    folders = {e.name: e for e in _entries(root) if e.is_dir() or e.is_symlink()}
    missing = [split for split in schema.RAW_SPLITS if split not in folders]
    if missing:
        found = ", ".join(f"{_shown(name)}/" for name in folders) or "none"
        lacks = " or ".join(f"{split}/" for split in missing)
        raise PipelineError(
            f"data.folder {_named(root)}: no {lacks} folder (folders: {found}); {fix}"
        )
    for split in schema.RAW_SPLITS:
        if folders[split].is_symlink():
            raise PipelineError(f"data.folder {_named(root)}: {split}/ is a link; make it a folder")
    others = [f"{_shown(name)}/" for name in folders if name not in schema.RAW_SPLITS]
    if others:
        raise PipelineError(
            f"data.folder {_named(root)}: folders other than train/ and test/: "
            f"{', '.join(others[:NAMED])}; move them out (preprocess splits validation off "
            "train/ itself)"
        )


def _class_folders(root: Path, problems: _Problems) -> dict[str, list[str]]:
    """Each split's class folders, sorted; train's order is the class ids'."""
    classes = {}
    for split in schema.RAW_SPLITS:
        classes[split] = []
        for entry in _entries(root / split):
            place = f"{split}/{_shown(entry.name)}"
            if entry.is_symlink():
                problems.add("class folders that are links", place + "/", "copy the folders in")
            elif not entry.is_dir():
                problems.add(
                    "files outside a class folder", place, f"move them into {split}/<class>/"
                )
            elif problem := schema.class_name_problem(entry.name):
                problems.add(
                    "class folders whose names are not class names",
                    place + "/",
                    f"rename them to {CLASS_NAMES}",
                    detail=problem,
                )
            else:
                classes[split].append(entry.name)
    problems.raise_any()
    return classes


def _check_classes(root: Path, classes: dict[str, list[str]]) -> None:
    train, test = classes[schema.TRAIN], classes[schema.TEST]
    if len(train) < 2:
        raise PipelineError(
            f"data.folder {_named(root)}: train/ has {len(train)} class folder(s); a classifier "
            "needs at least 2"
        )
    if len(train) > schema.MAX_CLASSES:
        raise PipelineError(
            f"data.folder {_named(root)}: train/ has {len(train)} class folders; at most "
            f"{schema.MAX_CLASSES} are supported"
        )
    unknown = [name for name in test if name not in set(train)]
    if unknown:
        raise PipelineError(
            f"data.folder {_named(root)}: test/ has classes that train/ lacks: "
            f"{', '.join(map(_shown, unknown[:NAMED]))}; a model cannot learn them: add "
            "them to train/ or remove them from test/"
        )
    if not test:
        raise PipelineError(
            f"data.folder {_named(root)}: test/ has no class folders; add test images"
        )


@dataclasses.dataclass(frozen=True)
class _File:
    path: Path
    key: bytes  # the path below the folder


def _class_files(root: Path, split: str, name: str, walk: _Walk) -> Iterator[_File]:
    """A class folder's image files by name; the files that cannot be images are the
    walk's bad files, and folders inside it its layout problems."""
    suffixes = images.suffixes()
    for entry in _entries(root / split / name):
        relative = f"{split}/{name}/{entry.name}"
        place = _shown(relative)
        if entry.is_symlink():
            target = Path(os.path.realpath(entry.path))
            if not target.is_relative_to(root) or not target.is_file():
                walk.bad("links out of the folder", place, "copy the files in")
                continue
        elif entry.is_dir():
            walk.layout.add("folders inside a class folder", place + "/", "move their images up")
            continue
        elif not stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
            walk.bad("special files, not regular files", place, "remove them")
            continue
        if Path(entry.name).suffix.lower() not in suffixes:
            walk.bad("files that are not images", place, "remove them")
        elif problem := _file_name_problem(entry.name):
            walk.bad(problem, place, "rename them")
        else:
            yield _File(Path(entry.path), relative.encode())


@dataclasses.dataclass(frozen=True)
class Survey:
    """A checked folder: its schema, its class folders, and what reading it will do."""

    root: Path
    schema: schema.Schema
    classes: dict[str, list[str]]  # per split, its class folders; train's order is the ids'
    counts: dict[str, int]  # images per split
    skipped: int  # bad files skipped (data.bad_files: skip)
    resized: int  # images of another size, to be resized to the schema's


def _is_grey(image: Image.Image) -> bool:
    if image.mode in ("P", "PA"):  # a palette of greys is grey
        palette = np.array(image.getpalette("RGB") or [0, 0, 1], np.uint8).reshape(-1, 3)
        return bool((palette == palette[:, :1]).all())
    return image.mode in images.GREY_MODES


class _Walk:
    """Every image file of a checked layout, one class folder at a time. Its bad files are
    problems (data.bad_files: refuse) or skipped and counted (skip); the problems of the
    layout are problems whatever data.bad_files says. Both are raised by `done`."""

    def __init__(self, root: Path, classes: dict[str, list[str]], params: DataParams):
        self.root, self.classes, self.skip = root, classes, params.bad_files == SKIP
        self.layout, self.problems, self.skipped = _Problems(root), _Problems(root), 0

    def bad(self, kind: str, place: str, fix: str, detail: str = "") -> None:
        if self.skip:
            self.skipped += 1
        else:
            self.problems.add(kind, place, fix + _SKIP_HINT, detail)

    def files(self, split: str) -> Iterator[tuple[int, _File]]:
        """(class id, file) of a split's images, class by class, by file name."""
        ids = {name: label for label, name in enumerate(self.classes[schema.TRAIN])}
        for name in self.classes[split]:
            for file in _class_files(self.root, split, name, self):
                yield ids[name], file

    def done(self) -> None:
        self.layout.raise_any()
        self.problems.raise_any()


def survey(params: DataParams) -> Survey:
    """Checks `params.folder` and infers its schema from its images' headers.

    Raises:
        PipelineError: one line naming the problem, the first few files it concerns and
            the fix (or the param that decides).
    """
    root = Path(params.folder).expanduser().resolve()
    if root == Path(NO_FOLDER).resolve():
        raise PipelineError(
            f"data.folder is {NO_FOLDER}, a placeholder: set it to your images' folder, "
            f"{IMAGES_FOLDER} say (docs/own-data.md)"
        )
    _check_root(root)
    problems = _Problems(root)
    classes = _class_folders(root, problems)
    _check_classes(root, classes)
    walk = _Walk(root, classes, params)
    sizes: collections.Counter[tuple[int, int]] = collections.Counter()
    examples: dict[tuple[int, int], list[str]] = collections.defaultdict(list)
    per_class: dict[str, collections.Counter[int]] = {}
    grey, progress = True, _Progress()
    for split in schema.RAW_SPLITS:
        per_class[split] = collections.Counter()
        for label, file in walk.files(split):
            place = _shown(file.key.decode())
            try:
                with images.reading(file.path) as image:
                    size, grey = (image.height, image.width), grey and _is_grey(image)
            except PipelineError as error:
                walk.bad("images that do not read", place, "replace or remove them", str(error))
                continue
            sizes[size] += 1
            per_class[split][label] += 1
            progress.show("checked %d %s images so far", per_class[split].total(), split)
            if len(examples[size]) < NAMED:
                examples[size].append(place)
        logger.info(
            "checked %d %s images in %s/%s", per_class[split].total(), split, _named(root), split
        )
    walk.done()
    for split in schema.RAW_SPLITS:
        empty = [
            n
            for i, n in enumerate(classes[schema.TRAIN])
            if n in classes[split] and not per_class[split][i]
        ]
        if empty:
            raise PipelineError(
                f"data.folder {_named(root)}: {split}/ has class folders without images: "
                f"{', '.join(f'{split}/{_shown(n)}/' for n in empty[:NAMED])}; add images, "
                "or remove the folder"
            )
    counts = {split: per_class[split].total() for split in schema.RAW_SPLITS}
    height, width = _size(root, params, sizes, examples)
    inferred = schema.Schema(
        height, width, 1 if grey else 3, "uint8", tuple(classes[schema.TRAIN]), schema.RESIZE
    )
    try:
        inferred.check()
    except ValueError as error:
        raise PipelineError(
            f"data.folder {_named(root)}: {error}; set data.image_size to [height, width] to "
            "resize them"
        ) from None
    resized = sum(sizes.values()) - sizes[(height, width)]
    if walk.skipped:
        logger.warning("skipping %d bad files (data.bad_files: skip)", walk.skipped)
    return Survey(root, inferred, classes, counts, walk.skipped, resized)


def _size(
    root: Path,
    params: DataParams,
    sizes: collections.Counter[tuple[int, int]],
    examples: dict[tuple[int, int], list[str]],
) -> tuple[int, int]:
    """The schema's (height, width), by data.image_size."""
    if isinstance(params.image_size, list):
        return params.image_size[0], params.image_size[1]
    # The most common size; a tie goes to the larger, then the taller: deterministic.
    common = max(sizes, key=lambda size: (sizes[size], size[0] * size[1], size))
    if params.image_size == MOST_COMMON or len(sizes) == 1:
        return common
    assert params.image_size == AS_FOUND
    others = sum(sizes.values()) - sizes[common]
    named = [
        f"{place} is {h}x{w}"
        for (h, w), places in examples.items()
        if (h, w) != common
        for place in places
    ]
    raise PipelineError(
        f"data.folder {_named(root)}: {others} of {sum(sizes.values())} images are not "
        f"{common[0]}x{common[1]} (height x width), e.g. {', '.join(named[:NAMED])}; set "
        "data.image_size to most_common or [height, width] to resize them"
    )


def record_key(path: bytes) -> bytes:
    """A file's record key: a hash of its path below the folder, then the path.

    Preprocess orders each shard by key; by path, the examples would come out class by
    class, and a shuffle buffer smaller than the split (train.buffer_size) could not mix
    them (MNIST as a folder of PNG files trained to 0.954 against 0.976). By the hash they
    come out mixed, in an order that depends on the paths alone, as tfds writes a
    dataset's examples in an order by hash of their keys."""
    return hashlib.blake2b(path, digest_size=4).hexdigest().encode() + b":" + path


def examples(
    found: Survey, params: DataParams
) -> dict[str, Iterator[tuple[bytes, np.ndarray, int]]]:
    """Per split, its (key, image uint8 [H, W, C], label), decoded one at a time."""
    return {split: _read(found, params, split) for split in schema.RAW_SPLITS}


def _read(found: Survey, params: DataParams, split: str) -> Iterator[tuple[bytes, np.ndarray, int]]:
    data = found.schema
    walk = _Walk(found.root, found.classes, params)
    total, done, progress = found.counts[split], 0, _Progress()
    read, skipped = collections.Counter[int](), []
    for label, file in walk.files(split):
        try:
            with images.reading(file.path) as image:
                pixels = images.pixels(image, data.channels, (data.height, data.width))
        except PipelineError as error:
            if params.bad_files != SKIP:
                raise PipelineError(
                    f"data.folder {_named(found.root)}: {_shown(file.key.decode())} does not read "
                    f"({error}); replace or remove it{_SKIP_HINT}"
                ) from None
            skipped.append(_shown(file.key.decode()))
            continue
        done += 1
        read[label] += 1
        progress.show("read %d of %d %s images", done, total, split)
        yield record_key(file.key), pixels, label
    walk.problems.raise_any()
    _say_skipped(found, split, read, skipped)


def _say_skipped(found: Survey, split: str, read: collections.Counter, skipped: list[str]) -> None:
    """Counts the images of `split` skipped because they do not decode (their headers read,
    so the survey could not tell), and refuses a class that skipping left empty.

    Raises:
        PipelineError: a class of `split` has no image left.
    """
    if not skipped:
        return
    logger.warning(
        "skipped %d %s images that do not decode (data.bad_files: skip), e.g. %s",
        len(skipped), split, ", ".join(skipped[:NAMED]),
    )  # fmt: skip
    if emptied := [name for label, name in enumerate(found.schema.classes) if not read[label]]:
        raise PipelineError(
            f"data.folder {_named(found.root)}: no {split} image of class {_shown(emptied[0])} "
            f"decodes (e.g. {skipped[0]}); replace its images"
        )

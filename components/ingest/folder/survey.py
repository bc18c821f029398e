"""The survey of a folder dataset: its one walk (layout), every image's header read (size
and mode, no pixels), and the `Schema` inferred from them: the size (by `data.image_size`),
the channels (grey if every image is, else RGB), the class names. Any problem ends it in one
line (problems.Problems); what it keeps for reading is each class folder's file names.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from components.ingest.folder import layout
from components.ingest.folder.problems import NAMED, Place, Problems, refusal
from pipeline import images, schema
from pipeline.errors import PipelineError, shown_path
from pipeline.params import AS_FOUND, MOST_COMMON, SKIP, DataParams

logger = logging.getLogger("components.ingest")  # the stage's lines: "ingest: ..."

_PROGRESS_S = 10.0  # seconds between two lines of progress


class Progress:
    """Logs a line of progress when _PROGRESS_S have passed since the last."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def show(self, message: str, *args: object) -> None:
        if time.monotonic() - self.last > _PROGRESS_S:
            logger.info(message, *args)
            self.last = time.monotonic()


@dataclasses.dataclass(frozen=True)
class ClassFiles:
    """A class folder's image files, as the walk found them: by name, bad files left out."""

    split: str
    name: str  # the class folder's
    label: int
    joined: str  # the file names joined by NUL, which no name holds: a few bytes a file

    def paths(self) -> Iterator[str]:
        """Each file's path below the folder: `train/cat/0001.png`."""
        if self.joined:
            for file in self.joined.split("\0"):
                yield f"{self.split}/{self.name}/{file}"


@dataclasses.dataclass(frozen=True)
class Survey:
    """A checked folder: its schema, its image files, and what reading it will do."""

    root: Path
    schema: schema.Schema
    files: dict[str, list[ClassFiles]]  # per split, its class folders' files; train's ids
    counts: dict[str, int]  # images per split
    skipped: int  # bad files skipped (data.bad_files: skip)
    resized: int  # images of another size, to be resized to the schema's


def _is_grey(image: Image.Image) -> bool:
    if image.mode in ("P", "PA"):  # a palette of greys is grey
        palette = np.array(image.getpalette("RGB") or [0, 0, 1], np.uint8).reshape(-1, 3)
        return bool((palette == palette[:, :1]).all())
    return image.mode in images.GREY_MODES


class _Headers:
    """What the images' headers said: sizes (with a few files of each), grey or not, and
    the images of each class, per split."""

    def __init__(self) -> None:
        self.sizes = collections.Counter[tuple[int, int]]()
        self.examples: dict[tuple[int, int], list[str]] = collections.defaultdict(list)
        self.grey = True
        self.per_class: dict[str, collections.Counter[int]] = {}

    def read(self, root: Path, split: str, label: int, key: str, problems: Problems) -> bool:
        """Reads the header of the image at `key` below `root`: False if it does not read."""
        try:
            with images.reading(root / key) as image:
                size, self.grey = (image.height, image.width), self.grey and _is_grey(image)
        except PipelineError as error:
            problems.bad("unreadable", key, "replace", str(error))
            return False
        self.sizes[size] += 1
        self.per_class[split][label] += 1
        if len(self.examples[size]) < NAMED:
            self.examples[size].append(key)
        return True


def survey(params: DataParams) -> Survey:
    """Checks `params.folder` and infers its schema from its images' headers.

    Raises:
        PipelineError: one line naming the problem, the first few files it concerns and
            the fix (or the param that decides).
    """
    root = Path(params.folder).expanduser().resolve()
    problems = Problems(root, params.bad_files == SKIP)
    classes = layout.class_folders(root, problems)
    ids = {name: label for label, name in enumerate(classes[schema.TRAIN])}
    headers, files, progress = _Headers(), {}, Progress()
    for split in schema.RAW_SPLITS:
        headers.per_class[split], files[split] = collections.Counter(), []
        for name in classes[split]:
            names = []
            for file in layout.image_files(root, split, name, problems):
                names.append(file)
                if headers.read(root, split, ids[name], f"{split}/{name}/{file}", problems):
                    checked = headers.per_class[split].total()
                    progress.show("checked %d %s images so far", checked, split)
            files[split].append(ClassFiles(split, name, ids[name], "\0".join(names)))
        logger.info(
            "checked %d %s images in %s/%s",
            headers.per_class[split].total(), split, shown_path(root), split,
        )  # fmt: skip
    problems.raise_any()
    _check_not_empty(root, classes, headers)
    counts = {split: headers.per_class[split].total() for split in schema.RAW_SPLITS}
    inferred = _schema(root, params, classes[schema.TRAIN], headers)
    resized = sum(headers.sizes.values()) - headers.sizes[inferred.height, inferred.width]
    if problems.skipped:
        logger.warning("skipping %d bad files (data.bad_files: skip)", problems.skipped)
    return Survey(root, inferred, files, counts, problems.skipped, resized)


def _check_not_empty(root: Path, classes: dict[str, list[str]], headers: _Headers) -> None:
    for split in schema.RAW_SPLITS:
        empty = [
            Place(f"{split}/{n}/")
            for i, n in enumerate(classes[schema.TRAIN])
            if n in classes[split] and not headers.per_class[split][i]
        ]
        if empty:
            head, fix = "class folders without images: ", "; add images or remove them"
            raise refusal(root, head, empty[:NAMED], fix, len(empty))


def _schema(root: Path, params: DataParams, classes: list[str], headers: _Headers) -> schema.Schema:
    height, width = _size(root, params, headers)
    inferred = schema.Schema(
        height, width, 1 if headers.grey else 3, "uint8", tuple(classes), schema.RESIZE
    )
    try:
        return inferred.check()
    except ValueError as error:
        raise refusal(root, f"{error}; set data.image_size to [height, width]") from None


def _size(root: Path, params: DataParams, headers: _Headers) -> tuple[int, int]:
    """The schema's (height, width), by data.image_size."""
    if isinstance(params.image_size, list):
        return params.image_size[0], params.image_size[1]
    sizes = headers.sizes
    # The most common size; a tie goes to the larger, then the taller: deterministic.
    common = max(sizes, key=lambda size: (sizes[size], size[0] * size[1], size))
    if params.image_size == MOST_COMMON or len(sizes) == 1:
        return common
    assert params.image_size == AS_FOUND
    others = sum(sizes.values()) - sizes[common]
    named = [
        Place(place, after=f" is {h}x{w}")
        for (h, w), places in headers.examples.items()
        if (h, w) != common
        for place in places
    ]
    head = f"{others} of {sum(sizes.values())} images not {common[0]}x{common[1]}: "
    raise refusal(root, head, named[:NAMED], "; set data.image_size", others)

"""Reading a surveyed folder dataset: each image decoded into the schema's size and channels
(pipeline.images), one at a time, with its key (`record_key`, pipeline.schema.file_key): a
hash of the file's path below the folder, then the path (b"5d41402a:train/cat/0001.png").
The files are those the survey's walk found: the folder is not walked again.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterator

import numpy as np

from components.ingest.folder.problems import NAMED, SKIP_HINT, Place, refusal
from components.ingest.folder.survey import Progress, Survey
from pipeline import images, schema
from pipeline.errors import PipelineError
from pipeline.params import SKIP, DataParams

logger = logging.getLogger("components.ingest")  # the stage's lines: "ingest: ..."
record_key = schema.file_key  # one definition of the key format, which preprocess reads too


def examples(
    found: Survey, params: DataParams
) -> dict[str, Iterator[tuple[bytes, np.ndarray, int]]]:
    """Per split, its (key, image uint8 [H, W, C], label), decoded one at a time."""
    return {split: _read(found, params, split) for split in schema.RAW_SPLITS}


def _read(found: Survey, params: DataParams, split: str) -> Iterator[tuple[bytes, np.ndarray, int]]:
    data = found.schema
    total, done, progress = found.counts[split], 0, Progress()
    read, skipped = collections.Counter[int](), []
    for files in found.files[split]:
        for key in files.paths():
            try:
                with images.reading(found.root / key) as image:
                    pixels = images.pixels(image, data.channels, (data.height, data.width))
            except PipelineError as error:
                if params.bad_files != SKIP:
                    said = [Place(key, str(error), after=" does not read")]
                    fix = f"; replace{SKIP_HINT}"
                    raise refusal(found.root, "", said, fix) from None
                skipped.append(Place(key))
                continue
            done += 1
            read[files.label] += 1
            progress.show("read %d of %d %s images", done, total, split)
            yield record_key(key.encode()), pixels, files.label
    _say_skipped(found, split, read, skipped)


def _say_skipped(
    found: Survey, split: str, read: collections.Counter, skipped: list[Place]
) -> None:
    """Counts the images of `split` skipped because they do not decode (their headers read,
    so the survey could not tell), and refuses a class that skipping left empty.

    Raises:
        PipelineError: a class of `split` has no image left.
    """
    if not skipped:
        return
    logger.warning(
        "skipped %d %s images that do not decode (data.bad_files: skip), e.g. %s",
        len(skipped), split, ", ".join(place.shown() for place in skipped[:NAMED]),
    )  # fmt: skip
    if emptied := [name for label, name in enumerate(found.schema.classes) if not read[label]]:
        fix = " decodes; replace its images"  # the warning above names them
        raise refusal(found.root, f"no {split} image of class ", [Place(emptied[0])], fix)

"""`mnist-predict`: classify image files with the served model, as they are read.

Each image (PNG, JPEG, BMP, GIF, TIFF, WebP, PPM, TGA or ICO) is prepared as the model's
schema says (tools.predict.images): for the MNIST family, normalised the way MNIST's digits
were made, from any size, colour or greyscale, dark-on-light or light-on-dark; for a folder
dataset, resized to its size and channels as ingest resized its images. Answers are the
class names of the schema. Files are read, normalised and classified CHUNK at a time, and each
result is printed as it is made, in the order the files were given or found: memory stays
flat however many files there are. The model is the served version's TFLite model, run
by LiteRT (tools.predict.model): TensorFlow is never imported.

An answer is flagged unsure when the model's probability for it is below
--min-confidence, or when the normalisation found no clear digit in the image. A file that
cannot be read gets its own error line and the others are still classified, and so does a
file the model gives no finite probabilities for (a damaged model): never an answer.

The project's served version answers only if it is a model of this project's data (its
schema is `data/schema.json`'s); else mnist-predict says whose data it serves and answers
nothing (exit 4), unless --model names the model to ask. Exit status: 0 when every file got
a sure answer, 1 when a file could not be classified (or none was given), 3 when every file
was classified but some answers are unsure, 4 when the served model is another dataset's.

    mnist-predict digit.png scans/ [--json] [--model models/serving] [--min-confidence 0.8]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from pipeline import boundary
from pipeline.errors import PipelineError, escaped
from tools.predict import files, images, model

logger = logging.getLogger(__package__)

CHUNK = 64  # files per call into the model: batching pays off by ~16, and a chunk prints fast
MIN_CONFIDENCE = 0.8
UNSURE = 3  # the exit status when every file was classified, some answers unsure
OTHER_DATA = 4  # the exit status when the served model is not for this project's data
NOT_FINITE = (
    "the model's probabilities are not numbers (NaN or infinite): it is damaged; push it again"
)
EXIT_STATUSES = (
    "exit status: 0 when every file got a sure answer; 1 on an error (a file that could not "
    "be classified, no image files, no model); 2 on a usage error; 3 when every file was "
    "classified but some answers are unsure; 4 when the served model is another dataset's "
    "(--model to use it); 130 or 143 when stopped by Ctrl-C or SIGTERM"
)


@dataclasses.dataclass(frozen=True)
class Answer:
    """What mnist-predict says of one file: its class, or why it has none."""

    file: str  # the path as given (--json escapes it; a byte that is not UTF-8 as \udcNN)
    label: str | None = None  # the class's name
    label_id: int | None = None
    probability: float | None = None
    probabilities: dict[str, float] | None = None  # by class name, in id order
    unsure: str | None = None  # why not to trust the answer
    error: str | None = None

    def text(self) -> str:
        if self.error is not None:
            return f"{escaped(Path(self.file))}: error: {self.error}"
        said = f"{escaped(Path(self.file))}: {self.label} ({self.probability:.3f})"
        return f"{said} unsure: {self.unsure}" if self.unsure else said


def _answers(
    chunk: list[tuple[Path, images.Digit | PipelineError]], served: model.Served, least: float
) -> Iterator[Answer]:
    found = [digit.image for _, digit in chunk if isinstance(digit, images.Digit)]
    rows = iter(served.classify(np.stack(found)) if found else ())
    names = served.schema.classes
    for path, digit in chunk:
        if isinstance(digit, PipelineError):
            yield Answer(str(path), error=str(digit))
            continue
        row = next(rows)
        if not np.isfinite(row).all():  # NaN beats every number in argmax: it is no answer
            yield Answer(str(path), error=NOT_FINITE)
            continue
        best = int(row.argmax())
        doubts = [*digit.doubts]
        if row[best] < least:
            doubts.insert(0, f"probability below --min-confidence {least:g}")
        yield Answer(
            str(path),
            label=names[best],
            label_id=best,
            probability=float(row[best]),
            probabilities={name: round(float(p), 6) for name, p in zip(names, row, strict=True)},
            unsure="; ".join(doubts) or None,
        )


def predict(paths: Iterable[Path], served: model.Served, least: float) -> Iterator[Answer]:
    """Each file's answer, in order, CHUNK files at a time."""
    read = images.prepared(paths, served.schema)
    while chunk := list(itertools.islice(read, CHUNK)):
        yield from _answers(chunk, served, least)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-predict", description=__doc__.splitlines()[0], epilog=EXIT_STATUSES
    )
    parser.add_argument("paths", nargs="+", help="image files, or folders of them")
    parser.add_argument(
        "--model",
        help="a .tflite file, a SavedModel, or a serving folder of numbered versions (the "
        "latest is used); default: the project's served version",
    )
    parser.add_argument("--json", action="store_true", help="print JSON, one object per file")
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=MIN_CONFIDENCE,
        help=f"flag an answer unsure below this probability (default: {MIN_CONFIDENCE})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return boundary.guarded(
        lambda: _answer(args), "mnist-predict", said_by=logger, interrupted=None
    )


def _answer(args: argparse.Namespace) -> int:
    """Prints each file's answer as it is made; the exit status (EXIT_STATUSES)."""
    if not 0 <= args.min_confidence <= 1:
        raise PipelineError(f"--min-confidence {args.min_confidence} is not in [0, 1]")
    chosen = model.resolve(args.model)
    if said := model.other_data(chosen, args.model):
        if args.model is None:
            logger.error("%s; --model to use it", said)
            return OTHER_DATA
        logger.warning("%s", said)
    served = model.load(chosen)
    counts = {"sure": 0, "unsure": 0, "error": 0}
    for answer in predict(files.find_images(args.paths), served, args.min_confidence):
        kind = "error" if answer.error else "unsure" if answer.unsure else "sure"
        counts[kind] += 1
        if args.json:
            print(json.dumps(dataclasses.asdict(answer), allow_nan=False), flush=True)
        else:
            print(answer.text(), file=sys.stderr if answer.error else sys.stdout, flush=True)
    return _status(counts, args.paths)


def _status(counts: dict[str, int], given: list[str]) -> int:
    if not sum(counts.values()):
        logger.error("no image files in %s", ", ".join(given))
        return 1
    if counts["error"]:
        if not counts["sure"] + counts["unsure"]:
            logger.error("no file could be classified (%d failed)", counts["error"])
        return 1
    return UNSURE if counts["unsure"] else 0


def console() -> None:
    """The `mnist-predict` script: the process entry point, where process-wide settings go."""
    boundary.console(main, logging.WARNING)  # `mnist-predict scans/ | head` ends quietly


if __name__ == "__main__":
    console()

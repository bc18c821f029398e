"""Runs the photos bench: makes the images, asks mnist-predict's own path, scores them."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from bench import before, report
from bench.photos import make, picture
from bench.results import relative
from components.ingest.mirror import read_mirror
from pipeline import logs
from tools.predict import cli, model

CLEAN = "clean scans"  # the test digits as MNIST has them: the baseline of every ratio
Case = tuple[str, Path, int]  # condition, file, true label


def _handwritten(folder: Path, digits: np.ndarray, labels: np.ndarray, seed: int) -> Iterator[Case]:
    for n, (digit, label) in enumerate(zip(digits, labels, strict=True)):
        path = folder / f"{n:05d}-scan.png"
        Image.fromarray(digit).save(path)
        yield CLEAN, path, int(label)
        ink = make.handwritten_ink(digit)
        for c, condition in enumerate(make.HANDWRITTEN):
            rng = np.random.default_rng([seed, n, c])
            photo = make.photographed(ink, condition, rng)
            yield (
                condition.name,
                make.save(photo, folder / f"{n:05d}-{c:02d}", condition),
                int(label),
            )


def _printed(folder: Path, seed: int) -> Iterator[Case]:
    for f, font in enumerate(make.fonts()):
        for size in make.FONT_SIZES:
            for digit in range(10):
                ink = make.printed_ink(digit, font, size)
                for c, condition in enumerate(make.PRINTED):
                    rng = np.random.default_rng([seed, f, size, digit, c])
                    photo = make.photographed(ink, condition, rng)
                    name = folder / f"font{f:02d}-{size}-{digit}-{c}"
                    yield condition.name, make.save(photo, name, condition), digit


def _scored(answers: list[tuple[int, cli.Answer]]) -> dict:
    """Accuracy, and how the wrong answers look: their median probability and how many
    were flagged unsure (an error counts as wrong, flagged)."""
    wrong = [a for label, a in answers if a.label_id != label]
    probabilities = [a.probability for a in wrong if a.probability is not None]
    return {
        "images": len(answers),
        "correct": len(answers) - len(wrong),
        "accuracy": (len(answers) - len(wrong)) / len(answers),
        "unsure": sum(1 for _, a in answers if a.unsure or a.error),
        "wrong_unsure": sum(1 for a in wrong if a.unsure or a.error),
        "wrong_median_probability": statistics.median(probabilities) if probabilities else None,
        "errors": sum(1 for _, a in answers if a.error),
    }


def _before(folder: Path, made: list[Case], version: Path) -> dict[str, float]:
    """Each condition's accuracy with mnist-predict as it was before it read photos."""
    with before.checkout(before.PREDICT_BEFORE_PHOTOS) as tree:
        model_path = str(version.resolve())  # the earlier tool runs in another folder
        command = [sys.executable, "-m", "tools.predict.cli", "--json", "--model", model_path]
        ran = subprocess.run([*command, str(folder)], cwd=tree, capture_output=True, text=True)
    if ran.returncode not in (0, 1):  # 1: some file had no answer, as a photo may not
        sys.exit(f"bench: the earlier mnist-predict failed:\n{ran.stderr[-3000:]}")
    said = [json.loads(line) for line in ran.stdout.splitlines()]
    answers = {answer["file"]: answer.get("digit") for answer in said}
    right: dict[str, list[bool]] = {}
    for condition, path, label in made:
        right.setdefault(condition, []).append(answers.get(str(path)) == label)
    return {condition: sum(r) / len(r) for condition, r in right.items()}


def _every_clean_scan(folder: Path, mnist: dict, served: model.Served, version: Path) -> dict:
    """All of MNIST's test digits as clean scans, today's tool against the one before: the
    issue's "clean scans must not get worse", on more digits than the conditions use."""
    folder.mkdir()
    made = []
    for n, (digit, label) in enumerate(
        zip(mnist["test_images"], mnist["test_labels"], strict=True)
    ):
        Image.fromarray(digit).save(folder / f"{n:05d}.png")
        made.append((CLEAN, folder / f"{n:05d}.png", int(label)))
    answers = cli.predict([path for _, path, _ in made], served, cli.MIN_CONFIDENCE)
    scored = _scored([(label, answer) for (_, _, label), answer in zip(made, answers, strict=True)])
    return {**scored, "before_accuracy": _before(folder, made, version)[CLEAN]}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.photos", description=__doc__)
    parser.add_argument("--model", help="as mnist-predict's --model (default: the served one)")
    parser.add_argument("--digits", type=int, default=500, help="MNIST test digits to photograph")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if not os.environ.get("DATA_MIRROR"):
        sys.exit("bench: set DATA_MIRROR to the MNIST mirror folder")
    logs.setup_logging()
    started = time.perf_counter()
    version = model.resolve(args.model)
    served = model.load(version)
    mnist = read_mirror(os.environ["DATA_MIRROR"])
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(mnist["test_labels"]), args.digits, replace=False))
    with tempfile.TemporaryDirectory(prefix="bench-photos-") as scratch:
        folder = Path(scratch)
        made = [
            *_handwritten(
                folder, mnist["test_images"][pick], mnist["test_labels"][pick], args.seed
            ),
            *_printed(folder, args.seed),
        ]
        answers = cli.predict([path for _, path, _ in made], served, cli.MIN_CONFIDENCE)
        by_condition: dict[str, list] = {}
        picks = picture.Picks()
        for (condition, path, label), answer in zip(made, answers, strict=True):
            by_condition.setdefault(condition, []).append((label, answer))
            picks.offer(condition, path, label, answer)
        picture.draw(picks.shown, report.DOCS / "images" / "photos.png")
        earlier = _before(folder, made, version)
        every_clean = _every_clean_scan(folder / "all-clean", mnist, served, version)
    results = {
        "model": relative(version),
        "before": before.PREDICT_BEFORE_PHOTOS,
        "digits": args.digits,
        "fonts": [font.name for font in make.fonts()],
        "font_sizes": list(make.FONT_SIZES),
        "min_confidence": cli.MIN_CONFIDENCE,
        "conditions": [  # a list: in the order made, which the table keeps
            {"condition": name, **_scored(rows), "before_accuracy": earlier[name]}
            for name, rows in by_condition.items()
        ],
        "every_clean_scan": every_clean,
        "seconds": time.perf_counter() - started,
    }
    print(report.publish("photos", results))


if __name__ == "__main__":
    main()

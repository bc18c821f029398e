"""`mnist-predict`: classify real image files with the exported SavedModel.

Each image is normalised the way MNIST's digits were made (tools.predict.images): any size,
colour or greyscale, dark-on-light or light-on-dark, in PNG, JPEG, BMP, GIF, TIFF, WebP,
PPM, TGA or ICO. A file that cannot be read gets its own error line and the others are
still classified; the exit status is 1 if any file failed, or if nothing was classified.

    mnist-predict digit.png scans/ [--json] [--model models/serving]

`--model` takes a SavedModel or a serving folder, whose latest version is used; by default
the serving folder dvc.yaml names.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from components.evaluate import serving
from pipeline import artifacts, cli
from pipeline.errors import PipelineError
from tools.predict import images

logger = logging.getLogger(__name__)


def _serve(model_dir: Path) -> Any:
    with cli.quiet_native_startup():  # after argument errors: `--help` answers at once
        import tensorflow as tf
    signature = serving.load_signature(model_dir)
    return lambda pixels: signature(images=tf.constant(pixels))["probabilities"].numpy()


def predict(files: list[Path], model_dir: str | Path) -> list[dict]:
    """Classifies each file; a file that fails gets {"file", "error"} instead of a digit."""
    results, batch, batch_files = [], [], []
    for path, digit in images.digits(files):
        if isinstance(digit, PipelineError):
            results.append({"file": str(path), "error": str(digit)})
        else:
            batch.append(digit)
            batch_files.append(path)
    if batch:
        probabilities = _serve(Path(model_dir))(np.stack(batch))
        for path, row in zip(batch_files, probabilities, strict=True):
            digit = int(row.argmax())
            results.append(
                {
                    "file": str(path),
                    "digit": digit,
                    "probability": float(row[digit]),
                    "probabilities": [round(float(p), 6) for p in row],
                }
            )
    order = {str(path): n for n, path in enumerate(files)}
    return sorted(results, key=lambda r: order[r["file"]])


def _print(results: list[dict], as_json: bool) -> None:
    for result in results:
        if as_json:
            print(json.dumps(result))
        elif "error" in result:
            print(f"{result['file']}: error: {result['error']}", file=sys.stderr)
        else:
            print(f"{result['file']}: {result['digit']} ({result['probability']:.3f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mnist-predict", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="image files or folders of them")
    parser.add_argument(
        "--model",
        help="a SavedModel, or a serving folder of numbered versions (the latest is used); "
        "default: the project's serving folder",
    )
    parser.add_argument("--json", action="store_true", help="print JSON, one object per file")
    args = parser.parse_args(argv)
    cli.setup_logging(logging.WARNING)
    model_path = args.model or artifacts.paths["serving"]
    model = serving.saved_model_dir(model_path)
    if model is None:
        logger.error(
            "no SavedModel in %s; run `dvc repro` (evaluate pushes a blessed model there) "
            "or pass --model",
            model_path,
        )
        return 1
    files = images.find_images(args.paths)
    if not files:
        logger.error("no image files in %s", ", ".join(args.paths))
        return 1
    try:
        results = predict(files, model)
    except PipelineError as error:
        logger.error("%s", error)
        return 1
    _print(results, args.json)
    classified = sum("digit" in r for r in results)
    if not classified:
        logger.error("no file could be classified (%d failed)", len(results))
    return 0 if classified == len(results) else 1


def console() -> None:
    """The `mnist-predict` script: the process entry point, where process-wide settings go."""
    cli.set_tensorflow_log_level()
    sys.exit(main())


if __name__ == "__main__":
    console()

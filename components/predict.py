"""`mnist-predict`: classify real image files with the exported SavedModel.

Each image is normalised the way MNIST's digits were made: greyscale; inverted if the
paper is lighter than the ink; cropped to the ink; scaled to fit 20x20 keeping its aspect
ratio; placed in 28x28 with its centre of mass at the centre. PNG, JPEG and BMP of any size,
colour or greyscale, dark-on-light or light-on-dark. A file that cannot be read gets its own
error line; the others are still classified; the exit status is 1 if any failed.

    mnist-predict digit.png scans/ [--json] [--model models/serving]

`--model` takes a SavedModel or a serving folder, whose latest version is used.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pipeline import cli, io, schema
from pipeline.errors import PipelineError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
MAX_FILE_BYTES = 50 * 2**20
MAX_PIXELS = 50_000_000  # Pillow's decompression-bomb guard, made an error
_BOX, _SIDE = 20, schema.IMAGE_SHAPE[0]
_INK_LEVEL = 0.25  # a pixel is ink when brighter than this share of the darkest-to-brightest range


def load_image(path: Path) -> np.ndarray:
    """Reads an image file as a float greyscale array in [0, 255].

    Raises:
        PipelineError: for an empty, oversized, unreadable or non-image file.
    """
    size = path.stat().st_size
    if size == 0:
        raise PipelineError("the file is empty")
    if size > MAX_FILE_BYTES:
        raise PipelineError(f"the file is {size / 2**20:.0f} MiB; the limit is 50 MiB")
    try:
        # Pillow warns of, then refuses, huge images by a limit of its own; ours is lower and
        # says so, and Pillow's process-wide limit is left as it is.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            if image.width * image.height > MAX_PIXELS:
                raise PipelineError(f"the image is {image.width}x{image.height}; too large")
            if image.mode in ("RGBA", "LA", "P"):
                # Transparent areas are paper: flatten onto white before dropping colour.
                rgba = image.convert("RGBA")
                image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
            return np.asarray(image.convert("L"), dtype=np.float64)
    except Image.DecompressionBombError:
        raise PipelineError("the image is too large (over Pillow's pixel limit)") from None
    except (UnidentifiedImageError, OSError) as error:
        raise PipelineError(f"not a readable PNG, JPEG or BMP image ({error})") from None


def to_mnist(grey: np.ndarray) -> np.ndarray:
    """Normalises a greyscale image like MNIST's digits: uint8 [28, 28], light ink on black."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > grey.mean():  # dark ink on light paper
        grey, border = 255 - grey, 255 - border
    grey = np.clip(grey - np.median(border), 0, None)  # the paper becomes black
    if grey.max() <= 0:
        raise PipelineError("the image is blank: no ink found")
    rows, cols = np.nonzero(grey > _INK_LEVEL * grey.max())
    ink = grey[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = _BOX / max(ink.shape)
    shape = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    digit = Image.fromarray((ink * 255 / ink.max()).astype(np.uint8)).resize(shape, Image.LANCZOS)
    box = np.asarray(digit, dtype=np.float64)
    ys, xs = np.indices(box.shape)
    centre_y, centre_x = (ys * box).sum() / box.sum(), (xs * box).sum() / box.sum()
    top = int(np.clip(round(_SIDE / 2 - centre_y), 0, _SIDE - box.shape[0]))
    left = int(np.clip(round(_SIDE / 2 - centre_x), 0, _SIDE - box.shape[1]))
    canvas = np.zeros((_SIDE, _SIDE), dtype=np.uint8)
    canvas[top : top + box.shape[0], left : left + box.shape[1]] = box.round().astype(np.uint8)
    return canvas


def find_images(paths: list[str]) -> list[Path]:
    """The given files, plus the image files inside given folders (sorted)."""
    found = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            found.append(path)
    return found


def saved_model_dir(path: str | Path) -> Path | None:
    """`path` if it is a SavedModel, else its latest numbered version (TF Serving's layout)."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    latest = io.latest_version(path)
    return latest if latest and (latest / "saved_model.pb").is_file() else None


def predict(files: list[Path], model_dir: str | Path) -> list[dict]:
    """Classifies each file; a file that fails gets {"file", "error"} instead of a digit."""
    with cli.quiet_native_startup():  # after argument errors: `--help` answers at once
        import tensorflow as tf

    results, batch, batch_files = [], [], []
    for path in files:
        try:
            if not path.is_file():
                raise PipelineError("no such file")
            batch.append(to_mnist(load_image(path)))
            batch_files.append(path)
        except PipelineError as error:
            results.append({"file": str(path), "error": str(error)})
    if batch:
        serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
        outputs = serve(images=tf.constant(np.stack(batch)))
        for path, probabilities in zip(batch_files, outputs["probabilities"].numpy(), strict=True):
            digit = int(probabilities.argmax())
            results.append(
                {
                    "file": str(path),
                    "digit": digit,
                    "probability": float(probabilities[digit]),
                    "probabilities": [round(float(p), 6) for p in probabilities],
                }
            )
    order = {str(path): n for n, path in enumerate(files)}
    return sorted(results, key=lambda r: order[r["file"]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mnist-predict", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="image files or folders of them")
    parser.add_argument(
        "--model",
        default="models/serving",
        help="a SavedModel, or a serving folder of numbered versions (the latest is used)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON, one object per file")
    args = parser.parse_args(argv)
    cli.setup_logging(logging.WARNING)
    model = saved_model_dir(args.model)
    if model is None:
        logger.error(
            "no SavedModel in %s; run `dvc repro` (evaluate pushes a blessed model there) "
            "or pass --model",
            args.model,
        )
        return 1
    results = predict(find_images(args.paths), model)
    for result in results:
        if args.json:
            print(json.dumps(result))
        elif "error" in result:
            print(f"{result['file']}: error: {result['error']}", file=sys.stderr)
        else:
            print(f"{result['file']}: {result['digit']} ({result['probability']:.3f})")
    return 1 if any("error" in r for r in results) else 0


def console() -> None:
    """The `mnist-predict` script: the process entry point, where process-wide settings go."""
    cli.set_tensorflow_log_level()
    sys.exit(main())


if __name__ == "__main__":
    console()

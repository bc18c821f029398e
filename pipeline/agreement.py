"""A stage's schema held to the records it reads, before memory is spent on either.

preprocess, train and evaluate read `data/schema.json` and size what they allocate by it:
decoded batches, the model's input layer, its output layer. A schema edited by hand (or
checked out from another commit than the records) would have them allocate by a shape the
records never hold, or train a model with classes no record has. So the schema's claims are
bounded by what the records beside it hold: the first record of each split's first file
holds an image of the schema's size, and preprocess's stats.json counts the schema's
classes. One record per split is read, whatever the schema says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import artifacts, codec, stats, tfrecord
from pipeline.errors import PipelineError, fitted, shown_path
from pipeline.schema import Schema, shape_text


def _first_image(file: str) -> bytes | None:
    """The image bytes of the file's first record; None if it has none, or its framing or
    its record is broken: the stage's own reading names a damaged file."""
    try:
        first = next(iter(tfrecord.read_tfrecords(file)), None)
        return None if first is None else codec.decode_example(first)[1]
    except (tfrecord.CorruptRecordsError, ValueError):
        return None


def _disagrees(schema_path: str | Path, says: str, partner: str | Path, held: str) -> PipelineError:
    """The one line: the schema, what it says, the partner file or folder, what it holds."""
    schema = shown_path(schema_path, 32)
    return PipelineError(
        fitted(f"{schema} says {says}, ", partner, f" {held}: dvc checkout {schema}")
    )


def check_schema(
    schema_path: str | Path,
    data: Schema,
    directory: str | Path,
    splits: tuple[str, ...],
    dtype: type[np.generic],
) -> None:
    """Holds `data`, read from `schema_path`, to the records of `splits` in `directory`.

    Args:
        dtype: the records' pixel type: raw (ingest's) or processed (preprocess's), whose
            folder also holds stats.json with a count per class.

    Raises:
        PipelineError: naming the schema, the records and the fix, if their image size or
            (processed records) their number of classes differ.
    """
    for split in splits:
        image = _first_image(tfrecord.split_files(directory, split)[0])
        values = None if image is None else len(image) / np.dtype(dtype).itemsize
        if values is not None and values != data.values:
            held = f"{values:g}" if values < 10**9 else "other"
            shape = shape_text(data.image_shape)
            raise _disagrees(schema_path, shape, directory, f"{held} values")
    if np.dtype(dtype).kind != "f":
        return
    for split, counted in stats.read_stats(directory).items():
        if split in splits and len(counted.examples_per_class) != data.num_classes:
            partner = Path(directory) / artifacts.STATS_FILE
            counts = str(len(counted.examples_per_class))
            raise _disagrees(schema_path, f"{data.num_classes} classes", partner, counts)

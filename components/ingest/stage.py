"""Ingest stage: load a dataset and write it as TFRecords, with the schema it follows.

Writes `<out>/train-00000-of-00001.tfrecord` and `<out>/test-...` holding `tf.train.Example`
records with a stable key, the raw uint8 image and the int64 label (see pipeline.schema),
and `--schema`: the images' size and channels and the class names, inferred from the data.
The dataset is one of tfds's MNIST family (components.ingest.source; with a mirror,
`DATA_MIRROR` else `data.mirror`, tfds reads the four IDX files from it and never touches
the network), or a folder of labelled images (`data.dataset: folder`, components.ingest.folder).

    python -m components ingest --out data/raw --schema data/schema.json
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np

from components.ingest import folder, source
from pipeline import cli, codec, outputs, run_record, scan, schema, startup, tfrecord
from pipeline.params import FOLDER, DataParams

logger = logging.getLogger(__package__)


@dataclasses.dataclass(frozen=True)
class Paths(cli.StagePaths):
    stage: ClassVar[str] = "ingest"

    out: str = cli.flag("output folder for the TFRecords")
    schema: str = cli.flag("output file for the dataset's schema")


@dataclasses.dataclass(frozen=True)
class Ingested:
    """Examples written per split, and the schema they follow."""

    counts: dict[str, int]
    schema: schema.Schema


def resolve_mirror(configured: str | None) -> str | None:
    """The mirror folder to use: `DATA_MIRROR` if set, else `data.mirror`, else none."""
    chosen = os.environ.get(source.MIRROR_ENV) or configured
    return str(Path(chosen).expanduser().resolve()) if chosen else None


Examples = dict[str, Iterator[tuple[bytes, np.ndarray, int]]]  # per split: key, image, label


def _write_split(split: str, examples: Iterator[tuple[bytes, np.ndarray, int]], path: Path) -> int:
    records = (codec.encode_example(key, image, label) for key, image, label in examples)
    count = tfrecord.write_tfrecords(path, records)
    logger.info("wrote %d %s examples to %s", count, split, path.name)
    return count


@contextlib.contextmanager
def _dataset(params: DataParams) -> Iterator[tuple[schema.Schema, Examples]]:
    """The dataset's schema and its examples, from tfds or from a folder."""
    if params.dataset == FOLDER:
        found = folder.survey(params)
        yield found.schema, folder.examples(found, params)
        return
    mirror_dir = Path(params.mirror) if params.mirror else None
    builder = source.builder(params.dataset, mirror_dir)
    with tempfile.TemporaryDirectory(prefix="ingest-") as work:
        yield source.inferred_schema(builder), source.split_examples(builder, Path(work))


def ingest(paths: Paths, params: DataParams) -> Ingested:
    """Loads the dataset `params` name and writes its splits as TFRecords to `paths.out`,
    and its schema to `paths.schema`, each replaced atomically. A tfds dataset comes from
    the mirror folder `params.mirror` if set, else is downloaded.

    Raises:
        PipelineError: for a bad mirror or folder, or no network without a mirror.
    """
    # Both are written before either is renamed into place: the two renames, one after the
    # other, are all that could leave a new schema beside old records, or old beside new.
    with (
        _dataset(params) as (inferred, examples),
        outputs.atomic_output(paths.schema) as schema_temp,
        outputs.atomic_output(paths.out, exclusive=True) as temp,
    ):
        temp.mkdir()
        counts = {
            split: _write_split(split, examples[split], temp / schema.split_file(split))
            for split in schema.RAW_SPLITS
        }
        scan.check_split_dir("ingest", temp, schema.RAW_SPLITS, inferred, report=paths.anomalies)
        schema.write_schema(schema_temp, inferred)
    return Ingested(counts, inferred)


def main(argv: list[str] | None = None) -> None:
    paths, params = cli.arguments(Paths, argv, __doc__.splitlines()[0])
    data = dataclasses.replace(params.data, mirror=resolve_mirror(params.data.mirror))
    if data.dataset != FOLDER:
        _quiet_tfds(data)
    with run_record.stage("ingest"):
        ingest(paths, data)


def _quiet_tfds(data: DataParams) -> None:
    # tfds loads TensorFlow lazily, mid-run: load it here, where its start-up lines are held
    # back like every stage's (components.__main__).
    with startup.quiet_native_startup():
        import tensorflow  # noqa: F401
        import tensorflow_datasets as tfds
    # tfds logs a 200-character line per file it "downloads" from the mirror, and draws its
    # download bars: the stage's own line names the mirror.
    logging.getLogger("absl").setLevel(logging.WARNING)
    if data.mirror:
        tfds.disable_progress_bar()

"""Ingest stage: load a tfds MNIST-family dataset and write it as TFRecords.

Writes `<out>/train-00000-of-00001.tfrecord` and `<out>/test-...` holding `tf.train.Example`
records with a stable key, the raw uint8 image and the int64 label (see pipeline.schema).
With a mirror (`DATA_MIRROR`, else `data.mirror`), tfds reads the four IDX files from it
and never touches the network (components.ingest.source).

    python -m components ingest --out data/raw
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from components.ingest import source
from pipeline import cli, codec, outputs, schema, tfrecord, validate
from pipeline.params import DataParams

logger = logging.getLogger(__package__)


@dataclasses.dataclass(frozen=True)
class Paths(cli.StagePaths):
    out: str = cli.flag("output folder for the TFRecords")


@dataclasses.dataclass(frozen=True)
class Ingested:
    """Examples written per split."""

    counts: dict[str, int]


def resolve_mirror(configured: str | None) -> str | None:
    """The mirror folder to use: `DATA_MIRROR` if set, else `data.mirror`, else none."""
    chosen = os.environ.get(source.MIRROR_ENV) or configured
    return str(Path(chosen).expanduser().resolve()) if chosen else None


def _write_split(split: str, examples: Iterator[tuple[int, dict]], path: Path) -> int:
    records = (
        codec.encode_example(schema.example_key(split, key), features["image"], features["label"])
        for key, features in examples
    )
    count = tfrecord.write_tfrecords(path, records)
    logger.info("wrote %d %s examples to %s", count, split, path.name)
    return count


def ingest(paths: Paths, params: DataParams) -> Ingested:
    """Loads `params.dataset` with tfds and writes its splits as TFRecords to `paths.out`,
    replaced atomically; from the mirror folder `params.mirror` if set, else downloaded.

    Raises:
        PipelineError: for a bad mirror, no network without a mirror, or a dataset of
            another shape.
    """
    mirror_dir = Path(params.mirror) if params.mirror else None
    builder = source.builder(params.dataset, mirror_dir)
    with tempfile.TemporaryDirectory(prefix="ingest-") as work:
        examples = source.split_examples(builder, Path(work))
        with outputs.atomic_output(paths.out, exclusive=True) as temp:
            temp.mkdir()
            counts = {
                split: _write_split(split, examples[split], temp / schema.split_file(split))
                for split in schema.RAW_SPLITS
            }
            validate.check_split_dir("ingest", temp, schema.RAW_SPLITS, schema.RAW_DTYPE)
    return Ingested(counts)


def main(argv: list[str] | None = None) -> None:
    paths, params = cli.arguments(Paths, argv, __doc__.splitlines()[0])
    data = dataclasses.replace(params.data, mirror=resolve_mirror(params.data.mirror))
    # tfds loads TensorFlow lazily, mid-run: load it here, where its start-up lines are held
    # back like every stage's (components.__main__).
    with cli.quiet_native_startup():
        import tensorflow  # noqa: F401
        import tensorflow_datasets as tfds
    # tfds logs a 200-character line per file it "downloads" from the mirror, and draws its
    # download bars: the stage's own line names the mirror.
    logging.getLogger("absl").setLevel(logging.WARNING)
    if data.mirror:
        tfds.disable_progress_bar()
    with cli.stage("ingest"):
        ingest(paths, data)

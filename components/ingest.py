"""Ingest stage: load a tfds MNIST-family dataset and write it as TFRecords.

Writes `<out>/train-00000-of-00001.tfrecord` and `<out>/test-...` holding `tf.train.Example`
records with a stable key, the raw uint8 image and the int64 label (see pipeline.schema).
With a mirror (`DATA_MIRROR`, else `data.mirror`), tfds reads the four IDX files from it
and never touches the network.

tfds supplies the dataset: its definition (files, URLs, features), its download manager
(registered checksums when downloading) and its example generator, whose key (the
example's index in the source files) becomes ours: `train-00042`. What ingest skips is
tfds's own prepare step, which would PNG-encode and hash-shuffle all 70,000 examples into
tfds's TFRecords only for this stage to decode them again: most of its time.

    python -m components ingest --out data/raw
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import tensorflow_datasets as tfds

from pipeline import cli, example, io, mirror, schema, validate
from pipeline.errors import PipelineError

logger = logging.getLogger(__name__)

MIRROR_ENV = "DATA_MIRROR"
_PROBE_TIMEOUT_S = 3.0


def resolve_mirror(configured: str | None) -> Path | None:
    """The mirror folder to use: `DATA_MIRROR` if set, else `data.mirror`, else none."""
    chosen = os.environ.get(MIRROR_ENV) or configured
    return Path(chosen).expanduser().resolve() if chosen else None


def _check_reachable(url: str, dataset: str) -> None:
    # Offline, tfds retries with back-off for minutes; a short probe fails in seconds.
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=_PROBE_TIMEOUT_S).close()
    except OSError as error:
        raise PipelineError(
            f"ingest: cannot reach {parts.hostname} to download {dataset} ({error}); "
            f"set {MIRROR_ENV}=/path/to/folder (or data.mirror in params.yaml) to a folder "
            f"holding {', '.join(mirror.FILES.values())}"
        ) from None


def _builder(dataset: str, mirror_dir: Path | None) -> tfds.core.GeneratorBasedBuilder:
    builder = tfds.builder(dataset)
    features = builder.info.features
    if tuple(features["image"].shape) != schema.IMAGE_SHAPE or (
        features["label"].num_classes != schema.NUM_CLASSES
    ):
        raise PipelineError(
            f"ingest: {dataset} has images {features['image'].shape} and "
            f"{features['label'].num_classes} classes; this pipeline needs "
            f"{schema.IMAGE_SHAPE} and {schema.NUM_CLASSES}"
        )
    if mirror_dir is not None:
        mirror.read_mirror(mirror_dir, dataset)
        logger.info("reading %s from mirror %s", dataset, mirror_dir)
        builder.URL = mirror_dir.as_uri() + "/"
        tfds.disable_progress_bar()  # a local copy: its download bars are noise
    else:
        _check_reachable(builder.URL, dataset)
    return builder


def _split_examples(
    builder: tfds.core.GeneratorBasedBuilder, work_dir: Path
) -> dict[str, Iterator[tuple[int, dict]]]:
    """tfds's (key, example) generator per split, from its own split generators."""
    manager = tfds.download.DownloadManager(
        download_dir=work_dir / "downloads", url_infos=builder.url_infos, dataset_name=builder.name
    )
    # The two methods every tfds dataset defines for its prepare step (MNIST's, Fashion-
    # MNIST's and KMNIST's are the same code); tfds itself calls them just like this.
    return {
        str(generator.name): builder._generate_examples(**generator.gen_kwargs)
        for generator in builder._split_generators(manager)
    }


def _write_split(split: str, examples: Iterator[tuple[int, dict]], path: Path) -> int:
    records = (
        example.encode_example(schema.example_key(split, key), features["image"], features["label"])
        for key, features in examples
    )
    count = io.write_tfrecords(path, records)
    logger.info("wrote %d %s examples to %s", count, split, path.name)
    return count


def ingest(*, dataset: str, out_dir: str | Path, mirror_dir: Path | None) -> dict[str, int]:
    """Loads `dataset` with tfds and writes its splits as TFRecords under `out_dir`.

    Args:
        dataset: a tfds MNIST-family name (28x28x1 images, 10 classes).
        out_dir: output folder, replaced atomically.
        mirror_dir: folder of the four IDX .gz files, or None to download.

    Returns:
        Examples written per split.

    Raises:
        PipelineError: for a bad mirror, no network without a mirror, or a dataset of
            another shape.
    """
    builder = _builder(dataset, mirror_dir)
    with tempfile.TemporaryDirectory(prefix="ingest-") as work:
        examples = _split_examples(builder, Path(work))
        with io.atomic_output(out_dir) as temp:
            temp.mkdir()
            counts = {
                split: _write_split(split, examples[split], temp / schema.split_file(split))
                for split in schema.RAW_SPLITS
            }
            validate.check_split_dir("ingest", temp, schema.RAW_SPLITS, schema.RAW_DTYPE)
            return counts


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder for the TFRecords")
    args = parser.parse_args(argv)
    params = cli.load(args)
    # tfds loads TensorFlow lazily, mid-run: load it here, where its start-up lines are held
    # back like every stage's (components.__main__).
    with cli.quiet_native_startup():
        import tensorflow  # noqa: F401
    # tfds logs a 200-character line per file it "downloads" from the mirror; the stage's
    # own line names the mirror.
    logging.getLogger("absl").setLevel(logging.WARNING)
    with cli.stage("ingest"):
        ingest(
            dataset=params.data.dataset,
            out_dir=args.out,
            mirror_dir=resolve_mirror(params.data.mirror),
        )

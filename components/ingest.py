"""Ingest stage: load a tfds MNIST-family dataset and write it as TFRecords.

Writes `<out>/train-00000-of-00001.tfrecord` and `<out>/test-...` holding `tf.train.Example`
records with a stable key, the raw uint8 image and the int64 label (see pipeline.schema).
With a mirror (`DATA_MIRROR`, else `data.mirror`), tfds reads the four IDX files from it
and never touches the network.

    python -m components.ingest --out data/raw
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import urllib.parse
from pathlib import Path

import tensorflow as tf
import tensorflow_datasets as tfds

from pipeline import cli, io, mirror, schema, validate
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


def _prepare(dataset: str, mirror_dir: Path | None, work_dir: Path) -> tfds.core.DatasetBuilder:
    builder = tfds.builder(dataset, data_dir=str(work_dir / "tfds"))
    if mirror_dir is not None:
        mirror.read_mirror(mirror_dir, dataset)
        logger.info("reading %s from mirror %s", dataset, mirror_dir)
        builder.URL = mirror_dir.as_uri() + "/"
    else:
        _check_reachable(builder.URL, dataset)
    builder.download_and_prepare(
        download_dir=str(work_dir / "downloads"),
        download_config=tfds.download.DownloadConfig(try_download_gcs=False),
    )
    features = builder.info.features
    if tuple(features["image"].shape) != schema.IMAGE_SHAPE or (
        features["label"].num_classes != schema.NUM_CLASSES
    ):
        raise PipelineError(
            f"ingest: {dataset} has images {features['image'].shape} and "
            f"{features['label'].num_classes} classes; this pipeline needs "
            f"{schema.IMAGE_SHAPE} and {schema.NUM_CLASSES}"
        )
    return builder


def _write_split(builder: tfds.core.DatasetBuilder, split: str, path: Path) -> int:
    # shuffle_files=False reads in tfds's canonical (hash-of-key) order, stable across
    # prepares, so a key names the same example on every run.
    batches = builder.as_dataset(split=split, shuffle_files=False, batch_size=4096)
    count = 0
    with tf.io.TFRecordWriter(str(path)) as writer:
        for batch in tfds.as_numpy(batches):
            for image, label in zip(batch["image"], batch["label"], strict=True):
                key = f"{split}-{count:05d}".encode()
                writer.write(schema.encode_example(key, image, label))
                count += 1
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
    with tempfile.TemporaryDirectory(prefix="ingest-") as work:
        builder = _prepare(dataset, mirror_dir, Path(work))
        with io.atomic_output(out_dir) as temp:
            temp.mkdir()
            counts = {
                split: _write_split(builder, split, temp / schema.split_file(split))
                for split in schema.RAW_SPLITS
            }
            validate.check_split_dir("ingest", temp, schema.RAW_SPLITS, schema.RAW_DTYPE)
            return counts


def main() -> None:
    parser = cli.parser(__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder for the TFRecords")
    args = parser.parse_args()
    params = cli.load(args)
    with cli.stage("ingest"):
        ingest(
            dataset=params.data.dataset,
            out_dir=args.out,
            mirror_dir=resolve_mirror(params.data.mirror),
        )


if __name__ == "__main__":
    cli.run(main)

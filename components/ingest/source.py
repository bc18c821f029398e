"""The tfds side of ingest: a dataset's builder, pointed at the mirror, and its examples.

tfds supplies the dataset: its definition (files, URLs, features), its download manager
(registered checksums when downloading) and its example generator, whose key (the
example's index in the source files) becomes ours: `train-00042`. What ingest skips is
tfds's own prepare step, which would PNG-encode and hash-shuffle all 70,000 examples into
tfds's TFRecords only for this stage to decode them again: most of its time. Two uses of
tfds beyond its public API make that possible (docs/upgrading.md): the builder's `URL`,
pointed at the mirror, and the two methods its prepare step calls.
"""

from __future__ import annotations

import logging
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import tensorflow_datasets as tfds

from components.ingest import mirror
from pipeline import schema
from pipeline.errors import PipelineError

logger = logging.getLogger(__package__)

MIRROR_ENV = "DATA_MIRROR"
_PROBE_TIMEOUT_S = 3.0


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


def builder(dataset: str, mirror_dir: Path | None) -> tfds.core.GeneratorBasedBuilder:
    """The dataset's tfds builder, reading from `mirror_dir` if given (checked first).

    Raises:
        PipelineError: for a dataset of another shape, a bad mirror, or no network
            without a mirror.
    """
    found = tfds.builder(dataset)
    features = found.info.features
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
        found.URL = mirror_dir.as_uri() + "/"
    else:
        _check_reachable(found.URL, dataset)
    return found


def split_examples(
    found: tfds.core.GeneratorBasedBuilder, work_dir: Path
) -> dict[str, Iterator[tuple[int, dict]]]:
    """tfds's (key, example) generator per split, from the builder's own split generators."""
    manager = tfds.download.DownloadManager(
        download_dir=work_dir / "downloads", url_infos=found.url_infos, dataset_name=found.name
    )
    # The two methods every tfds dataset defines for its prepare step (MNIST's, Fashion-
    # MNIST's and KMNIST's are the same code); tfds itself calls them just like this.
    return {
        str(generator.name): found._generate_examples(**generator.gen_kwargs)
        for generator in found._split_generators(manager)
    }

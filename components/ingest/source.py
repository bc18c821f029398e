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

import numpy as np
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
            f"ingest: cannot reach {dataset}'s server; set {MIRROR_ENV} to a folder of its IDX "
            ".gz files",
            evidence=f"{parts.hostname}:{port}: {error}",
        ) from None


def builder(dataset: str, mirror_dir: Path | None) -> tfds.core.GeneratorBasedBuilder:
    """The dataset's tfds builder, reading from `mirror_dir` if given (checked first).

    Raises:
        PipelineError: for a bad mirror, or no network without a mirror.
    """
    found = tfds.builder(dataset)
    if mirror_dir is not None:
        mirror.read_mirror(mirror_dir, dataset)
        logger.info("reading %s from mirror %s", dataset, mirror_dir)
        found.URL = mirror_dir.as_uri() + "/"
    else:
        _check_reachable(found.URL, dataset)
    return found


def inferred_schema(found: tfds.core.GeneratorBasedBuilder) -> schema.Schema:
    """What a tfds dataset's features say its images and classes are. The data is held to
    it as it is written (pipeline.validate)."""
    image, label = found.info.features["image"], found.info.features["label"]
    height, width, channels = image.shape
    return schema.Schema(
        height, width, channels, np.dtype(image.np_dtype).name, tuple(label.names), schema.DIGIT
    ).check()


def split_examples(
    found: tfds.core.GeneratorBasedBuilder, work_dir: Path
) -> dict[str, Iterator[tuple[bytes, np.ndarray, int]]]:
    """(key, image, label) per split, from the builder's own split generators: tfds's key,
    the example's index in the source files, made ours (pipeline.schema.example_key)."""
    manager = tfds.download.DownloadManager(
        download_dir=work_dir / "downloads", url_infos=found.url_infos, dataset_name=found.name
    )
    # The two methods every tfds dataset defines for its prepare step (MNIST's, Fashion-
    # MNIST's and KMNIST's are the same code); tfds itself calls them just like this.
    return {
        str(generator.name): _examples(str(generator.name), generator.gen_kwargs, found)
        for generator in found._split_generators(manager)
    }


def _examples(
    split: str, gen_kwargs: dict, found: tfds.core.GeneratorBasedBuilder
) -> Iterator[tuple[bytes, np.ndarray, int]]:
    for index, features in found._generate_examples(**gen_kwargs):
        yield schema.example_key(split, index), features["image"], features["label"]

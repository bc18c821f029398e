"""A stage's run record: its start, its end and wall time in the log, and its measurements
as a JSON line for `make bench`, so log messages can be reworded freely."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

RECORD_ENV = "PIPELINE_RUN_RECORD"

logger = logging.getLogger("pipeline")


@contextmanager
def stage(name: str) -> Iterator[dict[str, Any]]:
    """Logs a stage's start and end with its wall time.

    Yields:
        The stage's run record, for the stage to add measurements to (rates, say). When
        the environment names a file in PIPELINE_RUN_RECORD, the record is appended to it
        as a JSON line.
    """
    logger.info("stage %s: start", name)
    start = time.perf_counter()
    record: dict[str, Any] = {"stage": name}
    yield record
    record["seconds"] = time.perf_counter() - start
    logger.info("stage %s: done in %.1f s", name, record["seconds"])
    if path := os.environ.get(RECORD_ENV):
        with open(path, "a") as file:
            file.write(json.dumps(record) + "\n")

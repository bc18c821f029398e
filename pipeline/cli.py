"""What every stage's `main()` shares: arguments, logging, and turning errors into one line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from pipeline.errors import PipelineError, disk_full
from pipeline.params import Params, load_params

logger = logging.getLogger("pipeline")


# Lines printed while TensorFlow and Beam load, none of them actionable: absl's notice that
# logging is not set up yet, oneDNN's and the CPU-feature notes, the CUDA probe on a machine
# without a GPU, and Beam's warning about optional BigQuery clients it does not use.
_STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called|oneDNN custom operations"
    r"|Could not find cuda drivers|cpu_feature_guard|To enable the following instructions"
    r"|rebuild TensorFlow with the appropriate compiler flags|apitools not found"
)


def set_tensorflow_log_level() -> None:
    """Keeps TensorFlow's C++ logging to errors, or to fatal ones without an NVIDIA driver,
    where its failed CUDA probe logs an error line. For process entry points only."""
    has_gpu_driver = os.path.exists("/proc/driver/nvidia")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if has_gpu_driver else "3")


@contextmanager
def quiet_native_startup() -> Iterator[None]:
    """Holds back what is written to stderr (fd 2, C++ included) while the block runs,
    then writes it out without the known start-up noise, or all of it if the block fails:
    a real import error is never hidden.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            kept = lines if failed else [line for line in lines if not _STARTUP_NOISE.search(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the `--params` option every stage takes."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--params", default="params.yaml", help="params file (params.yaml)")
    return result


def load(args: argparse.Namespace) -> Params:
    return load_params(args.params)


def project_path(path: str | Path) -> Path:
    """`path` relative to the project root, also when DVC runs the stage elsewhere.

    `dvc exp run --temp` and `dvc queue start` run stages in a copy of the project under
    `.dvc/tmp/exps/`; DVC sets DVC_ROOT to the project the experiment came from, so state
    shared by every run (the serving folder) resolves to the same place in all of them.
    """
    path = Path(path)
    return path if path.is_absolute() else Path(os.environ.get("DVC_ROOT", ".")) / path


RECORD_ENV = "PIPELINE_RUN_RECORD"


@contextmanager
def stage(name: str) -> Iterator[dict[str, Any]]:
    """Logs a stage's start and end with its wall time.

    Yields:
        The stage's run record, for the stage to add measurements to (rates, say). When
        the environment names a file in PIPELINE_RUN_RECORD, the record is appended to it
        as a JSON line: what `make bench` reads, so log messages can be reworded freely.
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


def _exit_now(status: int) -> NoReturn:
    """Ends the process without Python's teardown of its modules.

    With TensorFlow loaded that teardown is slow, once per stage, for nothing: outputs
    are closed and renamed into place by now.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def run(main: Callable[[], None]) -> None:
    """Runs a stage's main: a PipelineError, or a write that found the disk full, becomes
    one line and exit status 1."""
    setup_logging()
    try:
        main()
    except PipelineError as error:
        logger.error("%s", error)
        _exit_now(1)
    except Exception as error:
        if (full := disk_full(error)) is None:
            raise
        logger.error("%s", full)
        _exit_now(1)
    except KeyboardInterrupt:
        logger.error("interrupted; outputs were left as they were before this run")
        sys.exit(130)
    _exit_now(0)

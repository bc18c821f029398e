"""What every stage's `main()` shares: arguments, logging, and turning errors into one line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from pipeline.errors import PipelineError
from pipeline.params import Params, load_params

logger = logging.getLogger("pipeline")


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


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Logs a stage's start and end with its wall time."""
    logger.info("stage %s: start", name)
    start = time.perf_counter()
    yield
    logger.info("stage %s: done in %.1f s", name, time.perf_counter() - start)


def _exit_now(status: int) -> NoReturn:
    """Ends the process without Python's teardown of its modules.

    With TensorFlow loaded that teardown takes ~0.8 s (measured on `import tensorflow`
    alone), once per stage, for nothing: outputs are closed and renamed into place by now.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def run(main: Callable[[], None]) -> None:
    """Runs a stage's main: a PipelineError becomes one line and exit status 1."""
    setup_logging()
    try:
        main()
    except PipelineError as error:
        logger.error("%s", error)
        _exit_now(1)
    except KeyboardInterrupt:
        logger.error("interrupted; outputs were left as they were before this run")
        sys.exit(130)
    _exit_now(0)

"""Quiet start-up of the native libraries (TensorFlow, Beam, LiteRT): their C++ log level,
and the lines they print while they load. For process entry points only."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# Lines printed while TensorFlow, Beam and LiteRT load, none of them actionable: absl's notice
# that logging is not set up yet, oneDNN's and the CPU-feature notes, the CUDA probe on a
# machine without a GPU, Beam's warning about optional BigQuery clients it does not use, and
# LiteRT's note that it uses its fast CPU kernels (XNNPACK).
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called|oneDNN custom operations"
    r"|Could not find cuda drivers|cpu_feature_guard|To enable the following instructions"
    r"|rebuild TensorFlow with the appropriate compiler flags|apitools not found"
    r"|Created TensorFlow Lite XNNPACK delegate for CPU"
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
            kept = lines if failed else [line for line in lines if not STARTUP_NOISE.search(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()

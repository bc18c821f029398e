"""The pipeline's stages, one module each; run as `python -m components.<stage>`."""

import logging
import os

# TensorFlow's C++ start-up chatter buries the stage logs. Without an NVIDIA driver its
# failed CUDA probe even logs an error line, so there only fatal C++ messages are kept.
_HAS_GPU_DRIVER = os.path.exists("/proc/driver/nvidia")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if _HAS_GPU_DRIVER else "3")


class _DropImportNoise(logging.Filter):
    """Drops Beam's import-time warning about optional BigQuery clients, unused here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("apitools not found")


# Beam logs it on the root logger while being imported, before any stage sets up logging.
logging.getLogger().addFilter(_DropImportNoise())

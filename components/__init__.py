"""The pipeline's stages, one module each; run as `python -m components.<stage>`."""

import os

# TensorFlow's C++ start-up chatter buries the stage logs. Without an NVIDIA driver its
# failed CUDA probe even logs an error line, so there only fatal C++ messages are kept.
_HAS_GPU_DRIVER = os.path.exists("/proc/driver/nvidia")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if _HAS_GPU_DRIVER else "3")

"""The pipeline's stages, one module each; run as `python -m components.<stage>`."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) buries the stage logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

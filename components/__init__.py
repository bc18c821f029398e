"""The pipeline's stages, one module each, and their helpers."""

STAGES = ("ingest", "preprocess", "train", "evaluate")  # in order; dvc.yaml runs them so

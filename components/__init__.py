"""The pipeline's stages, one module each; run as `python -m components <stage> [flags]`."""

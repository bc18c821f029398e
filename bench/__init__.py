"""Benchmarks: the pipeline against the reference notebook, measured side by side."""

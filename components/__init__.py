"""The pipeline's four DVC stages, a package each: its entry (`stage.py`: the stage's paths,
its one plain function, and `main`), and the helpers only that stage uses.

    python -m components <stage> [flags]      # as dvc.yaml runs them
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.cli import StagePaths

STAGES = ("ingest", "preprocess", "train", "evaluate")  # in order; dvc.yaml runs them so


def arguments(stage: str, paths: StagePaths, params: str | None = None) -> list[str]:
    """A stage's command line after the interpreter, as dvc.yaml's, for the bench and tests:
    `-m components <stage> [--params P] <the flags of paths, the stage's Paths>`."""
    return ["-m", "components", stage, *(["--params", params] if params else []), *paths.argv()]

"""A failure with evidence, and the check that the boundary wrote it to the log its line
names, in the user's project: the same for every stage and tool (pipeline.boundary)."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from pipeline import artifacts
from pipeline.errors import PipelineError

STORY = "Traceback ...\n  the worker's own\n"


def fail_with_evidence(*args: object, **kwargs: object) -> NoReturn:
    """Stands in for any function a stage or tool calls: it fails, with its whole story."""
    raise PipelineError("x: it failed", evidence=STORY)


def assert_story_in_named_log(line: str, project: Path, name: str) -> None:
    """The one line names the log of `name` in `project`, and the log holds the story."""
    log = Path(artifacts.LOGS_DIR) / f"{name}.log"
    assert line.endswith(f"x: it failed; all of it is in {log}"), line
    assert (project / log).read_text() == STORY

"""A stage's command line: its `Paths` (one required `--<field>` flag each, and the reports
it writes in the user's project) and its params file, read and validated."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pipeline import workspace

if TYPE_CHECKING:  # the params (and YAML) are imported by the stages that read them
    from pipeline.params import Params


def flag(help: str) -> Any:
    """A field of a stage's `StagePaths`: the required command-line flag `--<field name>`."""
    return dataclasses.field(metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class StagePaths:
    """A stage's inputs and outputs, as its command line names them: each field is a
    required `--<field>` flag. The same fields parse the command and build it (for the
    bench and the tests); a test holds dvc.yaml's commands to them.

    What the stage writes only when it fails, its reports, is named here too, in the
    user's project (pipeline.workspace), where a run in DVC's copy of it leaves them.
    """

    stage: ClassVar[str]  # the stage's name, as dvc.yaml and the reports name it

    def argv(self) -> list[str]:
        """The flags that name these paths, in field order."""
        return [
            part
            for field in dataclasses.fields(self)
            for part in (f"--{field.name}", str(getattr(self, field.name)))
        ]

    @property
    def anomalies(self) -> Path:
        """The report a failed data check writes: every anomaly it found."""
        return workspace.anomalies_report(self.stage)


P = TypeVar("P", bound=StagePaths)


def arguments(paths: type[P], argv: list[str] | None, description: str) -> tuple[P, Params]:
    """A stage's command line: its paths and the params file, read and validated.

    Raises:
        PipelineError: for a params file that is missing or fails validation.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (params.yaml)")
    for field in dataclasses.fields(paths):
        parser.add_argument(f"--{field.name}", required=True, help=field.metadata["help"])
    args = parser.parse_args(argv)
    named = {field.name: getattr(args, field.name) for field in dataclasses.fields(paths)}
    from pipeline.params import load_params  # here: the tools that need no params skip YAML

    return paths(**named), load_params(args.params)

"""Where the state every run shares lives: in the user's project, also when DVC runs a stage
in a copy of it.

`dvc exp run --temp` and `dvc queue start` run stages in a copy of the project under
`.dvc/tmp/exps/`, which DVC deletes once the experiment ends; DVC sets DVC_ROOT to the
project the experiment came from. The serving folder, a failed check's anomaly report and a
failure's log resolve through it, so every run finds them, and the user reads them, in the
project itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline import artifacts


def workspace_path(path: str | Path) -> Path:
    """`path` in the user's project: under DVC_ROOT when DVC set it, else as given."""
    path = Path(path)
    return path if path.is_absolute() else Path(os.environ.get("DVC_ROOT", ".")) / path


def anomalies_report(stage: str) -> Path:
    """The report that lists every anomaly a failed check of `stage` found."""
    return workspace_path(artifacts.ANOMALIES_DIR) / f"{stage}.json"


def log_file(name: str) -> Path:
    """The whole story behind the one-line error of a stage or tool called `name`."""
    return workspace_path(artifacts.LOGS_DIR) / f"{name}.log"

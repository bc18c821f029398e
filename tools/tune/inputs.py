"""What a trial's copy of the project holds: each trial runs in a temp copy that DVC makes
from git's files and DVC's outputs alone, so an image folder inside the project that
neither tracks would be missing in every trial. Checked before the first trial starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.errors import PipelineError, shown
from pipeline.params import FOLDER, load_params


def check_folder_tracked(root: Path) -> None:
    """Refuses a folder dataset whose folder, inside the project, no trial would see.

    A folder outside the project is seen where it is; one inside it must be DVC's (a
    `.dvc` file for it or a folder above it: `dvc add`) or hold git-tracked files.

    Raises:
        PipelineError: naming the folder and the `dvc add` that makes it seen.
    """
    data = load_params(root / "params.yaml").data
    if data.dataset != FOLDER:
        return
    top = root.resolve()
    try:
        folder = (top / Path(data.folder).expanduser()).resolve().relative_to(top)
    except ValueError:
        return  # outside the project
    if any((top / f"{above}.dvc").is_file() for above in (folder, *folder.parents[:-1])):
        return
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", str(folder)], cwd=top, capture_output=True, check=False
    )
    if listed.returncode == 0 and listed.stdout:
        return
    raise PipelineError(
        f"mnist-tune: no trial can see data.folder {shown(str(folder))}: git and DVC track "
        "neither; dvc add it first (docs/own-data.md)"
    )

"""What an experiment's copy of the project holds: a queued or `--temp` experiment (so each
mnist-tune trial) runs in a temp copy that DVC makes from git's files and DVC's outputs
alone, so an image folder inside the project that neither tracks is missing there, and DVC
fails the experiment with a line of its own. mnist-tune checks before its first trial;
mnist-compare says it beside failed experiments."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.errors import PipelineError, shown
from pipeline.params import FOLDER, load_params


def unseen_folder(root: Path) -> str | None:
    """What to say of a folder dataset whose folder, inside the project, no experiment sees.

    A folder outside the project is seen where it is; one inside it must be DVC's (a
    `.dvc` file for it or a folder above it: `dvc add`) or hold git-tracked files.

    Returns:
        One line naming the folder and the `dvc add` that makes it seen, or None (also
        when params.yaml does not read: each stage says so, in a line of its own).
    """
    try:
        data = load_params(root / "params.yaml").data
    except PipelineError:
        return None
    if data.dataset != FOLDER:
        return None
    top = root.resolve()
    try:
        folder = (top / Path(data.folder).expanduser()).resolve().relative_to(top)
    except ValueError:
        return None  # outside the project
    if any((top / f"{above}.dvc").is_file() for above in (folder, *folder.parents[:-1])):
        return None
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", str(folder)], cwd=top, capture_output=True, check=False
    )
    if listed.returncode == 0 and listed.stdout:
        return None
    return (
        f"no experiment sees data.folder {shown(str(folder))}, not in git nor DVC: "
        "dvc add it (docs/own-data.md)"
    )

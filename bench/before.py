"""The code as it was before a change, to measure the change against: a git worktree of an
earlier commit in a temp folder, removed afterwards. Run its modules with the bench's venv
(`python -m ...` with the worktree as the working directory, which Python puts first on
sys.path)."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.measure import ROOT

# The last commit before issue 25 taught mnist-predict to read photos and run on LiteRT: its
# mnist-predict is "today's" tool of that issue (TensorFlow, the SavedModel, crop to ink).
PREDICT_BEFORE_PHOTOS = "3cdf568"


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """A worktree of commit `rev`, removed on leaving."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{rev}-") as scratch:
        tree = Path(scratch) / "tree"
        git = ["git", "-C", str(ROOT), "worktree"]
        subprocess.run([*git, "add", "--detach", str(tree), rev], check=True, capture_output=True)
        try:
            yield tree
        finally:  # also from git's list of worktrees
            subprocess.run([*git, "remove", "--force", str(tree)], check=False, capture_output=True)
            subprocess.run([*git, "prune"], check=False, capture_output=True)

"""The stages' process entry point: `python -m components <stage> [flags]`, as dvc.yaml runs them.

Process-wide settings are made here and nowhere else (importing a project module changes
no global state): TensorFlow's C++ log level, and holding back the start-up lines that
TensorFlow's and Beam's native code and imports print while they load (pipeline.startup).
The stage runs inside the console boundary (pipeline.boundary): errors become one line.
Then the stage's module is imported by its name, never run as `__main__`, so everything
Beam pickles for its workers refers to a module they can import.
"""

from __future__ import annotations

import importlib
import sys

from components import STAGES
from pipeline import boundary, startup


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in STAGES:
        sys.exit(f"usage: python -m components {{{','.join(STAGES)}}} [flags]")
    startup.set_tensorflow_log_level()
    with startup.quiet_native_startup():
        stage = importlib.import_module(f"components.{argv[0]}.stage")
    sys.argv = [f"python -m components {argv[0]}", *argv[1:]]
    boundary.run(stage.main, argv[0])


if __name__ == "__main__":
    main()

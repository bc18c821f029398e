"""What the tests share: paths, records, the DVC clone, stage runs, damage.

Test files import from here, never from one another (nor from conftest, which only holds
fixtures). TensorFlow's C++ start-up lines are held back here, as the stages' entry point
does: this package is the first thing each pytest-xdist worker imports, before pytest
captures its output.
"""

from pathlib import Path

from pipeline import cli

with cli.quiet_native_startup():
    import tensorflow  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]

"""What the tests share: paths, records, the DVC clone, stage runs, damage, local clusters.

Test files import from here, never from one another (nor from conftest, which only holds
fixtures). Nothing here loads TensorFlow on import: `tests.support.cluster` runs as the
main module of the local cluster's processes.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

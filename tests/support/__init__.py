"""What the tests share: paths, records, the DVC clone, stage runs, damage, local clusters.

Test files import from here, never from one another (nor from conftest, which only holds
fixtures). Nothing here loads TensorFlow on import. The local clusters and the folder
datasets live with the bench (`bench.cluster`, `bench.folders`), which imports nothing from
the tests; `tests.support.cluster` and `tests.support.folders` re-export them.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

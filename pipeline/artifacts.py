"""Where artifacts live: the stage output folders, as dvc.yaml names them, and file names
inside them.

dvc.yaml is the one place the folders are spelled (its `vars: paths`, which DVC puts into
each stage's command); code that needs them outside a stage (mnist-predict, mnist-tune, the
bench, the tests) reads them from there with `project_paths`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.errors import PipelineError

STATS_FILE = "stats.json"  # in preprocess's output: examples per split and class, pixel stats
MODEL_FILE = "model.keras"  # in train's output: the Keras model, native format
METRICS_FILE = "metrics.json"  # in evaluate's output: test loss and accuracy, blessed
BLESSING_FILE = "blessing.json"  # in evaluate's output: the verdict, its check, both models
PREDICTIONS_FILE = "predictions.csv"  # in evaluate's output: actual,predicted per test example
PER_CLASS_FILE = "per_class.csv"  # in evaluate's output: class,precision,recall,f1
MISCLASSIFIED_FILE = "misclassified.png"  # in evaluate's output: wrong test digits, captioned
ANOMALIES_DIR = "anomalies"  # at the project root: <stage>.json lists a failed check's anomalies
DVC_FILE = "dvc.yaml"


def project_paths(root: str | Path = ".") -> dict[str, Path]:
    """The artifact folders and files dvc.yaml's `vars: paths` names, under `root`.

    Raises:
        PipelineError: if `root` holds no dvc.yaml with those paths.
    """
    path = Path(root) / DVC_FILE
    try:
        declared = yaml.safe_load(path.read_text())
        paths = next(v["paths"] for v in declared["vars"] if isinstance(v, dict) and "paths" in v)
    except FileNotFoundError:
        raise PipelineError(f"no {path}; run this from the project's root folder") from None
    except (yaml.YAMLError, KeyError, TypeError, StopIteration):
        raise PipelineError(f"{path} names no `vars: paths`; restore it from git") from None
    return {name: Path(root) / value for name, value in paths.items()}

"""Where artifacts live: the stage output folders and the file names inside them, once.

This module is also dvc.yaml's `vars` file: DVC reads its literal assignments (not its
imports or functions), so `${paths.raw}` and `${files.metrics}` in dvc.yaml are the values
below. Stages get their folders from the command line dvc.yaml builds from them; code that
runs outside a stage (mnist-predict, mnist-compare, mnist-tune, the bench, the tests)
takes them from here with `under`.
"""

from __future__ import annotations

from pathlib import Path

# The stage output folders and files, relative to the project root.
paths = {
    "raw": "data/raw",  # ingest: TFRecords of the source splits
    "schema": "data/schema.json",  # ingest: the images' size and channels, the class names
    "processed": "data/processed",  # preprocess: scaled, split TFRecords and stats.json
    "model": "models/model.keras",  # train: the Keras model, native format
    "live": "dvclive",  # train: DVCLive's per-epoch metrics and plots data
    "reports": "reports",  # evaluate: the files below
    "serving": "models/serving",  # evaluate pushes to it: numbered SavedModel versions
}
# Files inside those folders.
files = {
    "stats": "stats.json",  # preprocess: examples per split and class, pixel statistics
    "live_summary": "metrics.json",  # train: DVCLive's name for its last-epoch summary
    "metrics": "metrics.json",  # evaluate: test loss and accuracy, blessed
    "blessing": "blessing.json",  # evaluate: the verdict, its check, both models
    "predictions": "predictions.csv",  # evaluate: actual,predicted per test example
    "per_class": "per_class.csv",  # evaluate: class,precision,recall,f1
    "misclassified": "misclassified.png",  # evaluate: wrong test digits, captioned
    "label_issues": "label_issues.json",  # evaluate: test and validation labels doubted, ranked
    "label_metrics": "label_metrics.json",  # evaluate: examples flagged per split
    "label_issues_test": "label_issues_test.png",  # evaluate: the most doubted, captioned
    "label_issues_validation": "label_issues_validation.png",
    "label_issues_train": "label_issues_train.json",  # mnist-audit: the training split's
}
ANOMALIES_DIR = "anomalies"  # at the project root: <stage>.json lists a failed check's anomalies
LOGS_DIR = "logs"  # at the project root: <stage>.log, the whole story behind a one-line error

STATS_FILE = files["stats"]
METRICS_FILE = files["metrics"]
BLESSING_FILE = files["blessing"]
PREDICTIONS_FILE = files["predictions"]
PER_CLASS_FILE = files["per_class"]
MISCLASSIFIED_FILE = files["misclassified"]
LABEL_ISSUES_FILE = files["label_issues"]
LABEL_METRICS_FILE = files["label_metrics"]
LABEL_PLOT_FILES = {
    "test": files["label_issues_test"],
    "validation": files["label_issues_validation"],
}
LABEL_ISSUES_TRAIN_FILE = files["label_issues_train"]
MODEL_FILE = Path(paths["model"]).name
# The two metrics files as dvc.yaml names them, and so `dvc metrics` and `dvc exp show`.
LIVE_SUMMARY_PATH = f"{paths['live']}/{files['live_summary']}"
METRICS_PATH = f"{paths['reports']}/{METRICS_FILE}"


def under(root: str | Path = ".") -> dict[str, Path]:
    """The stage output folders and files, under the project root `root`."""
    return {name: Path(root) / value for name, value in paths.items()}

"""File names of the artifacts inside the stage output folders (the folders come from dvc.yaml)."""

STATS_FILE = "stats.json"  # in preprocess's output: examples per split and class, pixel stats
MODEL_FILE = "model.keras"  # in train's output: the Keras model, native format
METRICS_FILE = "metrics.json"  # in evaluate's output: test loss and accuracy, blessed
BLESSING_FILE = "blessing.json"  # in evaluate's output: the verdict, its check, both models
PREDICTIONS_FILE = "predictions.csv"  # in evaluate's output: actual,predicted per test example
PER_CLASS_FILE = "per_class.csv"  # in evaluate's output: class,precision,recall,f1
MISCLASSIFIED_FILE = "misclassified.png"  # in evaluate's output: wrong test digits, captioned
ANOMALIES_DIR = "anomalies"  # at the project root: <stage>.json lists a failed check's anomalies

"""Evaluate: test scores, the blessing, and the push to the serving folder (TFX's Evaluator
and Pusher).

- `stage`: the stage's entry and `evaluate()`;
- `scores`: confusion matrix, loss and per-class scores, misclassified digits;
- `blessing`: the value and change thresholds against the model serving now;
- `serving`: the serving folder: versions, lock, push records, loading;
- `export`: the SavedModel with raw-pixel signatures, pushed as the next version.
"""

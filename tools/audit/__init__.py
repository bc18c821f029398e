"""`mnist-audit`: which labels of the training split a model doubts, from K-fold
out-of-fold probabilities (tools.audit.cli; the folds: tools.audit.folds)."""

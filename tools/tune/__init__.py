"""`mnist-tune`: `cli` (the command), `space` (tune.yaml, checked), `study` (trials as DVC
experiments, in an Optuna study) and `report` (the best trials and plots)."""

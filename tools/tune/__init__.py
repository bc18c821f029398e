"""`mnist-tune`: `cli` (the command), `space` (tune.yaml, checked), `study` (an Optuna study
of trials), `trials` (each a DVC experiment: run, read back, stopped), `as_trial` (the
process a trial runs in) and `report` (the best trials and plots)."""

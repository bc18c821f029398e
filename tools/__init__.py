"""The console scripts, which dvc.yaml never runs: they read what the pipeline made.

- `predict`: `mnist-predict`, image files classified by the served model;
- `compare`: `mnist-compare`, experiments side by side;
- `tune`: `mnist-tune`, a hyperparameter search of DVC experiments;
- `table`: the 120-column tables the last two print.
"""

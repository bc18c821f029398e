"""`mnist-predict`: `cli` (the command), `files` (which files, their names shown), `images`
(files read safely, normalised as MNIST's digits: `paper` and `strokes` find the
digit in a photo), `model` (the served model, on LiteRT)."""

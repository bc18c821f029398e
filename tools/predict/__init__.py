"""`mnist-predict`: `cli` (the command) and `images` (image files read safely, as MNIST digits)."""

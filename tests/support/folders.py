"""The folder datasets, which live with the bench (bench.folders) so that the bench imports
nothing from the tests; re-exported for the tests that write one."""

from bench.folders import COLOUR_CLASSES, colour_folder, digits_folder, mnist_folder, save_png

__all__ = ["COLOUR_CLASSES", "colour_folder", "digits_folder", "mnist_folder", "save_png"]

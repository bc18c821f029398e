"""The photos bench's picture: a few photos, and what the model sees of each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bench import plots
from pipeline.errors import PipelineError
from tools.predict import cli, images

# Which photos are shown: the nth image (from 1) made in each condition.
_SHOWN = {
    "photographed": {1, 2, 3},
    "photographed, light on dark": {4, 5},
    "printed, photographed": {118, 314},  # font 3 at 96 px, a 7; font 10 at 48 px, a 3
    "printed, photographed, light on dark": {180},  # font 5 at 96 px, a 9
}
_WRONG_FROM = "photographed"  # the first wrong answer of this condition is shown too


Shown = tuple[str, Path, int, cli.Answer]  # condition, photo, true label, answer


class Picks:
    """The photos the picture shows: chosen ones (_SHOWN), and the first photographed
    digit the model got wrong, as it is offered each photo and its answer in turn."""

    def __init__(self) -> None:
        self.shown: list[Shown] = []
        self._made: dict[str, int] = {}
        self._wrong = False

    def offer(self, condition: str, path: Path, label: int, answer: cli.Answer) -> None:
        self._made[condition] = nth = self._made.get(condition, 0) + 1
        wrong = condition == _WRONG_FROM and answer.label_id != label and not self._wrong
        self._wrong |= wrong
        if wrong or nth in _SHOWN.get(condition, ()):
            self.shown.append((condition, path, label, answer))


def draw(shown: list[Shown], out: Path) -> None:
    """Each photo above the 28x28 digit mnist-predict made of it, with its answer."""
    figure, axes = plots.pyplot().subplots(
        2, len(shown), figsize=(1.6 * len(shown), 4.4), squeeze=False
    )
    for column, (condition, path, label, answer) in enumerate(shown):
        with Image.open(path) as photo:
            axes[0, column].imshow(np.asarray(photo.convert("L")), cmap="gray", vmin=0, vmax=255)
        axes[0, column].set_title(condition.replace(", ", ",\n"), fontsize=7)
        try:
            seen = images.normalise(images.load_image(path)).image
        except PipelineError:
            seen = np.zeros((28, 28), np.uint8)
        axes[1, column].imshow(seen, cmap="gray", vmin=0, vmax=255)
        said = "error" if answer.error else f"{answer.label} ({answer.probability:.2f})"
        flag = "\nunsure" if answer.unsure else ""
        axes[1, column].set_title(f"true {label}: {said}{flag}", fontsize=7)
    for axis in axes.ravel():
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0, 0].set_ylabel("the photo", fontsize=8)
    axes[1, 0].set_ylabel("what the model sees", fontsize=8)
    plots.save(figure, out)

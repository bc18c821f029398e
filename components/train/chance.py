"""Whether a trained model scores what guessing would: a run that learned nothing says so.

Guessing here is answering without looking at the image: always the commonest class of the
validation split scores that class's share, `chance`, and that is 1/classes when the classes
are balanced. A guesser's correct answers on n validation examples are Binomial(n, chance).
A model is *near chance* when its correct answers are no more than the top of that
distribution's central 99% interval (its 99.5th percentile): guessing scores above it less
than one time in 200. Below the interval counts too: a model worse than
guessing learned nothing either.
"""

from __future__ import annotations

import logging

from scipy.stats import binom

logger = logging.getLogger(__package__)

INTERVAL = 0.99  # the central binomial interval around chance that counts as guessing
RECIPE = "docs/own-data.md's small-folder recipe"  # what to change, and how


def chance_ceiling(n: int, chance: float) -> int:
    """The most correct answers of n that the 99% interval around chance holds.

    Args:
        n: validation examples, at least 1.
        chance: a guesser's accuracy, in (0, 1].
    """
    return int(binom.ppf(1 - (1 - INTERVAL) / 2, n, chance))


def near_chance(accuracy: float, n: int, chance: float) -> bool:
    """True if `accuracy` on n examples is inside (or below) the 99% interval around chance.

    Keras's accuracy is a float32 mean: rounding it times n gives the correct answers.
    """
    return round(accuracy * n) <= chance_ceiling(n, chance)


def warn_if_near_chance(accuracy: float, examples_per_class: tuple[int, ...], steps: int) -> bool:
    """Logs one warning line, with the gradient steps taken and where the recipe is, if the
    final validation accuracy is near chance (module docstring).

    Args:
        accuracy: the last epoch's validation accuracy.
        examples_per_class: the validation split's examples of each class.
        steps: gradient steps the run took.

    Returns:
        Whether it warned.
    """
    n = sum(examples_per_class)
    if n == 0 or not near_chance(accuracy, n, max(examples_per_class) / n):
        return False
    # With the log line's prefix this fits 120 columns up to 10 million steps.
    logger.warning(
        "val acc %.2f is chance after %d gradient steps: try %s", accuracy, steps, RECIPE
    )
    return True

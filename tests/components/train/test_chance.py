import logging
import math

import numpy as np
import pytest

from components.train import chance
from pipeline import logs


def _guessing_reaches(correct: int, n: int, p: float) -> float:
    """P(X <= correct) for X ~ Binomial(n, p), summed term by term: scipy's answer checked."""
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(correct + 1))


@pytest.mark.parametrize(
    ("n", "p"), [(95, 1 / 3), (40, 1 / 4), (1000, 1 / 10), (10, 1 / 2), (7, 1.0)]
)
def test_the_ceiling_is_the_top_of_the_central_99_percent_interval(n, p):
    ceiling = chance.chance_ceiling(n, p)
    assert _guessing_reaches(ceiling, n, p) >= 0.995 - 1e-12
    if ceiling > 0:
        assert _guessing_reaches(ceiling - 1, n, p) < 0.995


def test_near_chance_at_the_boundary():
    n, p = 95, 1 / 3  # the folder: 3 classes, 95 validation images
    ceiling = chance.chance_ceiling(n, p)
    assert 0.4 < ceiling / n < 0.5  # a third, and the room 95 guesses leave
    assert chance.near_chance(ceiling / n, n, p)
    assert not chance.near_chance((ceiling + 1) / n, n, p)
    assert chance.near_chance(0.0, n, p)  # worse than guessing learned nothing either
    # Keras's accuracy is a float32 mean, a hair off k/n either way.
    assert chance.near_chance(float(np.float32(ceiling / n)), n, p)
    assert not chance.near_chance(float(np.float32((ceiling + 1) / n)), n, p)


def test_chance_is_the_commonest_class_share(caplog):
    caplog.set_level(logging.WARNING)
    # 90% of one class: answering it always scores 0.9, and learns nothing.
    assert chance.warn_if_near_chance(0.9, (90, 5, 5), steps=12)
    assert not chance.warn_if_near_chance(0.9, (34, 33, 33), steps=12)
    assert [r.getMessage() for r in caplog.records] == [
        "val acc 0.90 is chance after 12 gradient steps: try docs/own-data.md's small-folder recipe"
    ]


def _stage_formatter() -> logging.Formatter:
    """The formatter a stage's entry point logs with (pipeline.logs.setup_logging)."""
    handlers, level = logging.root.handlers[:], logging.root.level
    try:
        logs.setup_logging()
        return logging.root.handlers[0].formatter
    finally:
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)


def test_the_warning_fits_120_columns_up_to_ten_million_steps(caplog):
    caplog.set_level(logging.WARNING)
    assert chance.warn_if_near_chance(0.3333, (30, 30, 30), steps=9_999_999)
    (record,) = caplog.records
    line = _stage_formatter().format(record)
    assert len(line) <= 120, line

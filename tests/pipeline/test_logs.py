import logging
import re

from pipeline import logs


def test_a_log_line_leaves_a_one_line_error_its_room(monkeypatch, capsys):
    from pipeline.errors import LINE_ROOM

    assert logs.message_room(logging.getLogger("pipeline"), logging.ERROR) == LINE_ROOM
    monkeypatch.setattr(logging.root, "handlers", [])
    logs.setup_logging()
    logging.getLogger("components.train").info("epoch 1/5")
    [line] = capsys.readouterr().err.splitlines()
    # The time of day and the stage's own name: 21 characters where there were 48.
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO train: epoch 1/5", line), line

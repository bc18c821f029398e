import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import schema
from pipeline.errors import PipelineError
from tools.predict import images, parallel


def _pids(files: list[Path]) -> list[tuple[Path, int]]:
    return [(path, os.getpid()) for path in files]


def test_many_files_are_prepared_in_workers_and_come_back_in_order(monkeypatch):
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    files = [Path(f"{n}.png") for n in range(10 * parallel._TASK + 3)]
    done = list(parallel.ordered(_pids, iter(files)))
    assert [path for path, _ in done] == files
    assert os.getpid() not in {pid for _, pid in done}


@pytest.mark.parametrize("count", [1, parallel._TASK])
def test_a_few_files_or_one_core_pay_for_no_pool(monkeypatch, count):
    files = [Path(f"{n}.png") for n in range(count)]
    assert {pid for _, pid in parallel.ordered(_pids, files)} == {os.getpid()}
    monkeypatch.setattr(parallel, "cores", lambda: 1)
    many = [Path(f"{n}.png") for n in range(3 * parallel._TASK)]
    assert {pid for _, pid in parallel.ordered(_pids, many)} == {os.getpid()}


def test_prepared_keeps_each_files_digit_or_error_in_place(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    files = []
    for n in range(3 * parallel._TASK):
        files.append(tmp_path / f"{n:03d}.png")
        if n % 7:
            Image.fromarray(digit).save(files[-1])
        else:
            files[-1].write_bytes(b"not an image")
    data = schema.Schema(28, 28, 1, "uint8", tuple("0123456789"), schema.DIGIT)
    done = list(images.prepared(files, data))
    assert [path for path, _ in done] == files
    for n, (_, result) in enumerate(done):
        assert isinstance(result, PipelineError if n % 7 == 0 else images.Digit)
    alone = [result for _, result in images._prepared(files[1:2], data)]
    assert np.array_equal(alone[0].image, done[1][1].image)

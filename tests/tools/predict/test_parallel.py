import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import schema
from pipeline.errors import PipelineError
from tests.support import ROOT
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


# A process that has run TensorFlow holds garbage a fork copies: here a tf.data iterator in a
# reference cycle. Collected in a worker, its destructor waits on TensorFlow's threads, which
# the fork did not copy: the pool hung (seen in the test suite's workers).
_TENSORFLOW_GARBAGE_THEN_POOL = """
import gc
from pathlib import Path
import tensorflow as tf
from tools.predict import parallel

def prepare(files):
    junk = [[n] for n in range(200_000)]  # allocations: the worker's collector runs
    gc.collect()
    return [f.name for f in files]

class Holder:
    pass

gc.disable()
held = Holder()
held.cycle = held
held.iterator = iter(tf.data.Dataset.range(10**6).map(lambda x: x * 2).prefetch(4))
next(held.iterator)
del held
gc.enable()
names = list(parallel.ordered(prepare, [Path(str(n)) for n in range(40)]))
print(names == [str(n) for n in range(40)])
"""


@pytest.mark.skipif(parallel.cores() < 2, reason="one core prepares everything here, no pool")
def test_a_fork_never_collects_the_parents_tensorflow_garbage():
    result = subprocess.run(
        [sys.executable, "-c", _TENSORFLOW_GARBAGE_THEN_POOL],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert result.stdout.strip() == "True", result.stderr[-3000:]

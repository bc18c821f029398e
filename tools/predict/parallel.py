"""Many files prepared at once: a worker process per core reads and normalises them while
the model answers, and the results come back in the order the files were given.

Normalising a photo is numpy and scipy work a file at a time, so a folder is bound by one
core; the model's batches are not. Files go out in tasks of _TASK, at most _AHEAD tasks per
worker in flight, so memory stays flat however many files there are. A few files (up to one
task) are prepared here: a single image pays for no pool. Workers are forked, which costs
no imports (Linux only: elsewhere, and on one core, everything is prepared here); they only
ever run the image code, never the model, and leave Ctrl-C and SIGTERM to this process,
which stops them.
"""

from __future__ import annotations

import collections
import gc
import itertools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

_TASK = 16  # files per task: a few ms of work each, so the round trips do not show
_AHEAD = 4  # tasks in flight per worker: no worker waits while another's result is read

Result = TypeVar("Result")


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def ordered(
    prepare: Callable[[list[Path]], list[Result]], files: Iterable[Path]
) -> Iterator[Result]:
    """prepare(files) a task at a time, in worker processes when there is more than one
    task's worth of files and more than one core; results in the order of `files`.

    Args:
        prepare: a module-level function (it is sent to the workers by name) that maps a
            list of files to one result each.
    """
    files = iter(files)
    head = list(itertools.islice(files, _TASK + 1))
    workers = cores()
    if len(head) <= _TASK or workers < 2 or sys.platform != "linux":
        for task in _tasks(itertools.chain(head, files)):
            yield from prepare(task)
        return
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("fork"), initializer=_leave_signals
    )
    try:
        tasks = _tasks(itertools.chain(head, files))
        # The first submit forks every worker (a fork pool starts them all at once). Frozen,
        # this process's objects are never collected there: a cycle holding native state (a
        # TensorFlow iterator, in a process that has one) would wait in its destructor on
        # threads the fork did not copy, and the worker would hang.
        gc.freeze()
        try:
            pending: collections.deque[Future] = collections.deque(
                [pool.submit(prepare, next(tasks))]
            )
        finally:
            gc.unfreeze()
        while True:
            while len(pending) < workers * _AHEAD and (task := next(tasks, None)):
                pending.append(pool.submit(prepare, task))
            if not pending:
                break
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _tasks(files: Iterator[Path]) -> Iterator[list[Path]]:
    while task := list(itertools.islice(files, _TASK)):
        yield task


def _leave_signals() -> None:
    """In a worker: Ctrl-C is the parent's to handle (it shuts the pool down), and SIGTERM
    ends the worker at once, as it did before the parent's handlers were inherited."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

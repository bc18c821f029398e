"""mnist-serve in a process of its own, for the tests that talk to it over HTTP.

It binds 127.0.0.1 on a port the system picks (--rest_api_port 0), read from its log line,
and is stopped by its pid whatever happens. It runs with an import hook that fails any
import of TensorFlow or Keras, so every test that uses it also shows the server never
imports them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.serve_load import stop
from tests.support import ROOT

NO_TENSORFLOW = """
import importlib.abc, sys
class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            raise ImportError(f"mnist-serve imported {name}")
sys.meta_path.insert(0, NoTensorFlow())
sys.argv[0] = "mnist-serve"
from tools.serve.cli import console
console()
"""
_LISTENING = re.compile(r"at http://127\.0\.0\.1:(\d+)/v1/models/")


class Server:
    """A running mnist-serve: `url`, its `log` file, `get` and `post` for JSON."""

    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"

    def call(self, path: str, body: bytes | None = None) -> tuple[int, Any]:
        """(HTTP status, JSON answer) of a GET, or a POST of `body`."""
        request = urllib.request.Request(self.url + path, data=body)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def get(self, path: str) -> tuple[int, Any]:
        return self.call(path)

    def post(self, path: str, content: Any) -> tuple[int, Any]:
        return self.call(path, json.dumps(content).encode())


@contextlib.contextmanager
def serving(base: Path, log: Path, *args: str, timeout: float = 60) -> Iterator[Server]:
    """mnist-serve serving `base`, until the block ends."""
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                NO_TENSORFLOW,
                "--model_base_path",
                str(base),
                "--rest_api_port",
                "0",
                *args,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        deadline = time.monotonic() + timeout
        while not (found := _LISTENING.search(log.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"mnist-serve did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield Server(process, int(found[1]), log)
    finally:
        stop(process)

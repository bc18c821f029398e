"""The Makefile's own Python: linking the shared bytecode cache into a new venv."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT


def _link_bytecode() -> str:
    text = (ROOT / "Makefile").read_text()
    return text.split("define LINK_BYTECODE\n", 1)[1].split("\nendef", 1)[0]


def test_cached_bytecode_is_linked_only_for_modules_installed_here(tmp_path):
    # A cache written from a venv with more packages (the test extra) than this one: a
    # folder of bytecode alone would import as an empty package (msgpack, which broke
    # DVC's celery import in a `make repro` venv).
    site, cache = tmp_path / "site", tmp_path / "cache"
    (site / "here").mkdir(parents=True)
    (site / "here" / "__init__.py").write_text("")
    for package in ("here", "elsewhere"):
        (cache / package / "__pycache__").mkdir(parents=True)
        (cache / package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"pyc")
    shim = f"import sysconfig\nsysconfig.get_path = lambda name: {str(site)!r}\n"
    subprocess.run([sys.executable, "-c", shim + _link_bytecode(), "in", str(cache)], check=True)
    assert (site / "here" / "__pycache__" / "__init__.cpython-311.pyc").read_bytes() == b"pyc"
    assert not (site / "elsewhere").exists()

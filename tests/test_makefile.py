"""The Makefile's own Python: linking the shared bytecode cache into a new venv."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT


def _defined(name: str) -> str:
    """The Python the Makefile defines as `name` (a `define` block)."""
    text = (ROOT / "Makefile").read_text()
    return text.split(f"define {name}\n", 1)[1].split("\nendef", 1)[0]


def _link_bytecode() -> str:
    return _defined("LINK_BYTECODE")


def test_setup_imports_the_tools_without_tensorflows_start_up_lines():
    # What `make setup` prints was 8 lines from TensorFlow (absl's notice, oneDNN, the CUDA
    # probe), twice: TF_CPP_MIN_LOG_LEVEL does not reach what it logs before absl is set up.
    done = subprocess.run(
        [sys.executable, "-c", _defined("IMPORT_TOOLS")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stderr


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


def test_the_chromium_prerequisite_of_test_is_quiet_when_chromium_is_there(tmp_path):
    # `make test` installs Debian's Chromium for the page's browser test only when missing.
    present = tmp_path / "chromium"
    present.write_text("#!/bin/sh\n")
    present.chmod(0o755)
    done = subprocess.run(
        ["make", "--no-print-directory", "chromium", f"CHROMIUM={present}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr
    assert "chromium" in _defined_prerequisites("test")


def _defined_prerequisites(target: str) -> list[str]:
    line = next(
        line
        for line in (ROOT / "Makefile").read_text().splitlines()
        if line.startswith(f"{target}:")
    )
    return line.split(":", 1)[1].split()


def test_a_chromium_that_cannot_be_installed_fails_make_test_in_ci_only(tmp_path):
    # apt-get failing (no network, no root, not Debian): CI fails loudly with apt's words;
    # elsewhere one line says the page's browser test will skip (tests/support/browser.py).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("apt-get", "sudo"):
        (bin_dir / tool).write_text("#!/bin/sh\necho 'E: no network here' >&2\nexit 100\n")
        (bin_dir / tool).chmod(0o755)
    command = ["make", "--no-print-directory", "chromium", f"CHROMIUM={tmp_path / 'missing'}"]
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    in_ci = subprocess.run(command, cwd=ROOT, env={**env, "CI": "true"}, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert in_ci.returncode != 0
    assert (
        "E: no network here" in in_ci.stderr and "as root: apt-get install chromium" in in_ci.stderr
    )
    elsewhere = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=60)  # fmt: skip
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert elsewhere.stdout.splitlines()[-1].endswith("the page's browser test will skip")
    assert "E: no network here" not in elsewhere.stdout + elsewhere.stderr

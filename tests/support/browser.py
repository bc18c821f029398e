"""Debian's Chromium driven by Playwright, for the tests of pages: never a browser of
Playwright's own download (`playwright install` needs its CDN), always offline.

`make test` installs Chromium when it is missing (the Makefile's `chromium` target). Run
otherwise, a test without it is skipped with the reason, except in CI (CI=true), where it
fails: there no test may skip.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Headless, and nothing that would reach past the machine (updates, sync, QUIC probes).
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> Path:
    """The Chromium to drive, or the test is skipped (failed in CI) with the reason."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = f"no Chromium at {CHROMIUM}: `make test` installs Debian's (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@contextlib.contextmanager
def launched() -> Iterator:
    """A Playwright Browser on Debian's Chromium, closed when the block ends."""
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(path), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()

"""The benches' results files: bench/results/<name>.json, committed, the docs made from them.

A result names a file as the project or the bench's own scratch folder knows it, never by
where it sat on the machine that ran the bench (`relative`); a test holds every results file to
that (`machine_paths`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench.measure import ROOT
from pipeline import outputs

RESULTS = ROOT / "bench" / "results"
# An absolute path (/tmp/..., /home/...), a home folder's (~/...) or a Windows drive's, inside
# any string of a result: not a ratio's slash ("images/s", "1x / 32x").
_MACHINE_PATH = re.compile(r"(?<![\w.~/-])/[\w.-]+|(?<!\w)~/|\b[A-Za-z]:\\")


def write(name: str, results: dict) -> None:
    """Writes a bench's results atomically: a bench stopped mid-way leaves the last ones."""
    outputs.write_json(RESULTS / f"{name}.json", results)


def read(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def names() -> list[str]:
    """The results files there are, by name."""
    return sorted(path.stem for path in RESULTS.glob("*.json"))


def relative(path: str | Path, scratch: str | Path | None = None) -> str:
    """`path` as a result holds it: relative to the bench's `scratch` folder or to the
    project, else its last two parts (a model's folder and version, say)."""
    path = Path(path).resolve()
    for base in (scratch, ROOT):
        if base is not None and path.is_relative_to(Path(base).resolve()):
            return str(path.relative_to(Path(base).resolve()))
    return str(Path(*path.parts[-2:]))


def unscratched(text: str, scratch: str | Path) -> str:
    """A command's line with the bench's scratch folder taken out of the paths it names."""
    for base in {str(scratch), str(Path(scratch).resolve())}:
        text = text.replace(f"{base}/", "")
    return text


def machine_paths(value: Any, where: str = "") -> list[str]:
    """Every string in a result (keys too) that names a place on the machine that ran it:
    an absolute path such as /tmp/..., /home/..., or ~/..."""
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in machine_paths(key, where) + machine_paths(item, f"{where}/{key}")
        ]
    if isinstance(value, list):
        return [
            found for n, item in enumerate(value) for found in machine_paths(item, f"{where}/{n}")
        ]
    if isinstance(value, str) and _MACHINE_PATH.search(value):
        return [f"{where or '/'}: {value}"]
    return []

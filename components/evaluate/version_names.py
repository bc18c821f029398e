"""Version folder names, read exactly as TF Serving reads them.

TF Serving's file system source (tensorflow_serving/sources/storage_path/
file_system_storage_path_source.cc) lists the base folder's children, sorted by their bytes,
and takes as a version each name that `ParseVersionNumber` reads: TSL's `safe_strto64`,
which is `absl::SimpleAtoi` in the TensorFlow it is built with. That reads ASCII white
space around an optional sign and ASCII decimal digits, within int64: `7`, `007`, ` 7` and
`+7` are all version 7; `٣` (an Arabic-Indic three, a digit to Python's `int`), `²`, `7a`
and `0x7` are no version. Where several names read as one number, the last in byte order
is the one it loads (`IndexChildrenByVersion`). A servable's version must be non-negative
(`ServableId`), so a name that reads as a negative number is no version here either.

The same parse serves evaluate, mnist-push and mnist-predict (components.evaluate.serving):
the version they compare with, serve or push after is always the one a model server would
pick. tests/components/evaluate/test_version_names.py holds the parse to TensorFlow's own.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from pipeline import outputs

INT64_MAX = 2**63 - 1
_ASCII_SPACE = " \t\n\v\f\r"  # absl::ascii_isspace


def parse(name: str) -> int | None:
    """The version TF Serving reads in a child's name of the base folder, or None if it
    reads none (or a negative one)."""
    text = name.strip(_ASCII_SPACE)
    sign, digits = (text[0], text[1:]) if text[:1] in ("+", "-") else ("+", text)
    if not digits or any(not "0" <= char <= "9" for char in digits):
        return None
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(INT64_MAX)) or int(significant) > INT64_MAX:
        return None  # beyond int64: SimpleAtoi fails on overflow
    value = int(significant)
    return value if sign == "+" or value == 0 else None


@dataclasses.dataclass(frozen=True)
class Listing:
    """A base folder as TF Serving sees it.

    Attributes:
        numbered: each version's folder (or file), by number, in number order.
        ignored: names that are no version, or that lose to another name of the same
            number, in byte order; a push's own hidden temp folder is not among them.
    """

    numbered: dict[int, Path]
    ignored: tuple[str, ...]


def listed(base: str | Path) -> Listing:
    """The versions under `base` as TF Serving indexes them; none if it is no folder."""
    base = Path(base)
    names = sorted(os.listdir(base), key=os.fsencode) if base.is_dir() else []
    numbered: dict[int, Path] = {}
    ignored = []
    for name in names:
        number = parse(name)
        if number is None:
            if not (name.startswith(".") and outputs.TMP_MARK in name):
                ignored.append(name)
            continue
        if number in numbered:  # the later name in byte order wins, as in TF Serving
            ignored.append(numbered[number].name)
        numbered[number] = base / name
    return Listing(dict(sorted(numbered.items())), tuple(sorted(ignored, key=os.fsencode)))


def number(version: Path) -> int:
    """The version number of a version folder (a name `parse` reads).

    Raises:
        ValueError: for a folder that is no version.
    """
    found = parse(version.name)
    if found is None:
        raise ValueError(f"{version} is not a version folder")
    return found

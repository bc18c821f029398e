import errno
import os
from pathlib import Path

import pytest

from pipeline.errors import PipelineError, environment_error


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device", "out/x"),
        OSError(errno.EFBIG, "File too large"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        RuntimeError("a worker failed: [Errno 28] No space left on device"),  # a library's words
    ],
)
def test_a_full_disk_is_recognised_wherever_it_is_in_the_chain(error):
    try:
        try:
            raise error
        except Exception as cause:
            raise ValueError("wrapped") from cause
    except ValueError as wrapped:
        found = environment_error(wrapped)
    assert isinstance(found, PipelineError)
    assert str(found).startswith("no room to write the output")
    assert str(found).endswith("its previous output is untouched")


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            OSError(errno.EACCES, "Permission denied", "models/serving/3"),
            "cannot write models/serving/3 (Permission denied)",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "models/x"),
            "cannot write models/x (Read-only file system)",
        ),
        (
            RuntimeError("failed: Read-only file system"),
            "cannot write the output (Read-only file system)",
        ),
    ],
)
def test_a_folder_the_run_may_not_write_is_named(error, said):
    assert str(environment_error(error)).startswith(said)


def test_other_errors_are_not_the_environments():
    assert environment_error(OSError(errno.ECONNREFUSED, "Connection refused")) is None
    assert environment_error(ValueError("no space here")) is None


def test_a_cycle_in_the_chain_ends():
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert environment_error(first) is None


def test_a_path_is_shown_relative_to_the_project_or_by_its_last_folders(tmp_path, monkeypatch):
    from pipeline.errors import fitted, shown_path

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    assert shown_path(tmp_path / "data" / "raw") == "data/raw"
    deep = Path("/", *["a-folder-of-many-letters"] * 6, "mnist", "train-images-idx3-ubyte.gz")
    assert shown_path(deep) == ".../mnist/train-images-idx3-ubyte.gz"
    long_name = Path("/x", "a" * 300 + ".png")
    shown = shown_path(long_name, 40)
    assert len(shown) <= 40 and shown.startswith(".../aaa") and shown.endswith("....png")
    monkeypatch.setenv("DVC_ROOT", "/project")  # a --temp experiment: the user's project
    assert shown_path("/project/models/serving") == "models/serving"
    said = fitted("mirror: ", deep, " is missing; add it to the mirror folder")
    assert len(said) <= 95 and "mnist/train-images-idx3-ubyte.gz is missing" in said


def test_a_path_is_shown_on_one_line_unambiguously():
    from pipeline.errors import escaped, shown_path

    # The one way every message shows a name (folder refusals, mnist-predict's answers).
    assert escaped("a\\b.png") == "a\\\\b.png"
    assert escaped("two\nlines\t.png") == "two\\nlines\\t.png"
    assert escaped(os.fsdecode(b"bad-\xff.png")) == "bad-\\xff.png"
    assert escaped("ünïcode 7.png") == "ünïcode 7.png"  # printable: as the user wrote it
    assert escaped("\u202egnp.exe") == "\\u202egnp.exe"  # a format character turns text around
    assert escaped("ünïcode 7.png") == "ünïcode 7.png"
    shown = shown_path(Path("/x") / os.fsdecode(b"\n\xff" * 40 + b".png"), 40)
    assert len(shown) <= 40 and "\n" not in shown and shown.endswith(".png")

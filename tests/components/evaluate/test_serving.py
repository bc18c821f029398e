import fcntl
import os

import pytest

from components.evaluate import serving
from pipeline import outputs
from pipeline.errors import PipelineError, shown_path


def test_versions_are_the_numbered_folders_in_number_order(tmp_path):
    for name in ("2", "10", "1", ".11.tmp-4", "notes", "3a"):
        (tmp_path / name).mkdir()
    assert [p.name for p in serving.versions(tmp_path)] == ["1", "2", "10"]
    assert serving.latest_version(tmp_path) == tmp_path / "10"
    assert serving.next_version(tmp_path) == tmp_path / "11"
    assert serving.latest_version(tmp_path / "missing") is None
    assert serving.next_version(tmp_path / "missing") == tmp_path / "missing" / "1"


def test_names_tf_serving_does_not_load_are_ignored_with_a_warning(tmp_path, caplog):
    # Each was a traceback or a wrong version: int() fails on '²' and reads '٣' as 3.
    for name in ("²", "٣", "007", "notes"):
        (tmp_path / name).mkdir()
    (tmp_path / "007" / serving.SAVED_MODEL).write_bytes(b"")
    assert serving.serving_version(tmp_path) == tmp_path / "007"
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (
        f"{shown_path(tmp_path)}: ignoring 'notes', '²', '٣': not version numbers TF Serving loads"
    )
    assert serving.number(tmp_path / "007") == 7
    assert serving.next_version(tmp_path) == tmp_path / "8"  # written plainly after TF's 7


def test_no_version_follows_the_largest_number_tf_serving_reads(tmp_path):
    (tmp_path / str(2**63 - 1)).mkdir()
    with pytest.raises(PipelineError, match="is the largest version number TF Serving reads"):
        serving.next_version(tmp_path)


def test_a_push_killed_midway_leaves_no_version_and_is_cleaned_up(tmp_path):
    base = tmp_path / "serving"
    (base / "1").mkdir(parents=True)
    unfinished = base / f".2{outputs.TMP_MARK}4242"  # what a push killed mid-write leaves
    (unfinished / "variables").mkdir(parents=True)
    assert serving.latest_version(base) == base / "1"  # hidden, not a number: never served
    serving.remove_unfinished_pushes(base)
    assert sorted(p.name for p in base.iterdir()) == ["1"]


def test_model_folder_is_a_saved_model_or_the_latest_of_its_versions(tmp_path, serving_dir):
    assert serving.saved_model_dir(serving_dir) == serving_dir
    base = tmp_path / "serving"
    base.mkdir()
    assert serving.saved_model_dir(base) is None
    for version in ("2", "10"):
        (base / version).symlink_to(serving_dir)
    (base / ".11.tmp-123").mkdir()  # a push in progress is not a version
    assert serving.saved_model_dir(base) == base / "10"
    assert serving.saved_model_dir(tmp_path / "missing") is None


def _try_lock(folder) -> bool:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)


def test_one_holder_of_the_push_lock_at_a_time(tmp_path):
    base = tmp_path / "serving"
    with serving.push_lock(base):
        assert not _try_lock(base)  # another run (another open file) must wait
    assert _try_lock(base)
    assert os.listdir(base) == []  # the lock is on the folder: nothing in it


def test_a_damaged_saved_model_is_one_line(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"not a SavedModel")
    with pytest.raises(PipelineError, match=r"cannot load the SavedModel in .*\(.+\)"):
        serving.load_signature(tmp_path)

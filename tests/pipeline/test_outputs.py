import pytest

from pipeline import outputs
from pipeline.errors import PipelineError


def test_atomic_output_replaces_folder_on_success(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with outputs.atomic_output(out) as temp:
        assert not temp.exists() and temp.parent == tmp_path
        temp.mkdir()
        (temp / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in out.iterdir()] == ["new.txt"]


def test_atomic_output_keeps_old_output_on_failure(tmp_path):
    out = tmp_path / "metrics.json"
    out.write_text("old")
    with pytest.raises(RuntimeError), outputs.atomic_output(out) as temp:
        temp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_atomic_output_removes_temps_of_killed_runs(tmp_path):
    stale = tmp_path / ".out.tmp-99999"
    stale.mkdir()
    with outputs.atomic_output(tmp_path / "out") as temp:
        temp.write_text("x")
    assert not stale.exists()


def test_write_json_is_sorted_and_stable(tmp_path):
    outputs.write_json(tmp_path / "m.json", {"b": 1, "a": {"d": 2, "c": 3}})
    assert (tmp_path / "m.json").read_text() == (
        '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'
    )


def test_require_names_the_stage_that_makes_a_missing_input(tmp_path):
    with pytest.raises(PipelineError, match=r"model.keras not found; run the train stage first"):
        outputs.require(tmp_path / "model.keras", "train")
    (tmp_path / "model.keras").write_text("a model")
    assert outputs.require(tmp_path / "model.keras", "train") == tmp_path / "model.keras"

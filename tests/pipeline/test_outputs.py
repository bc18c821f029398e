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


def test_a_second_run_writing_the_same_output_refuses_at_once(tmp_path):
    out = tmp_path / "out"
    with outputs.atomic_output(out, exclusive=True) as first:
        first.write_text("the first run's")
        refused = pytest.raises(PipelineError, match=r"another run is writing .*out now")
        with refused, outputs.atomic_output(out, exclusive=True):
            pass
        assert first.read_text() == "the first run's"  # its temp was left alone
    assert out.read_text() == "the first run's"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no lock file stays behind
    with outputs.atomic_output(out, exclusive=True) as second:  # free again
        second.write_text("the second run's")
    assert out.read_text() == "the second run's"


def test_json_reports_are_standard_json():
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        outputs.write_json("never-written.json", {"loss": float("nan")})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": NaN}', "NaN is not a JSON value"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b"[" * 100_000, "nested too deep"),
        (b"{" + b" " * (outputs.MAX_REPORT_BYTES + 1), "larger than"),
    ],
)
def test_a_report_file_read_back_is_checked(tmp_path, content, message):
    (tmp_path / "r.json").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        outputs.read_report(tmp_path / "r.json")


def test_a_report_that_is_a_device_is_not_read(tmp_path):
    (tmp_path / "r.json").symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="not a regular file"):
        outputs.read_report(tmp_path / "r.json")


def test_a_replaced_folder_keeps_the_files_others_wrote_there(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "metrics.json").write_text("old")  # the stage's own: replaced
    (out / "label_issues_train.json").write_text("mnist-audit's")  # another tool's: kept
    (out / "plots").mkdir()  # a folder the stage does not write: not carried over
    with outputs.atomic_output(out) as temp:
        temp.mkdir()
        (temp / "metrics.json").write_text("new")
        outputs.keep_others(out, temp)
    assert {p.name: p.read_text() for p in out.iterdir() if p.is_file()} == {
        "metrics.json": "new",
        "label_issues_train.json": "mnist-audit's",
    }
    assert not (out / "plots").exists()

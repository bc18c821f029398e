import json

from pipeline import run_record


def test_stage_appends_its_run_record_where_the_environment_says(tmp_path, monkeypatch):
    path = tmp_path / "record.jsonl"
    monkeypatch.setenv(run_record.RECORD_ENV, str(path))
    for rate in (1.5, 2.5):
        with run_record.stage("x") as record:
            record["things_per_s"] = rate
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["stage"], r["things_per_s"]) for r in records] == [("x", 1.5), ("x", 2.5)]
    assert all(r["seconds"] >= 0 for r in records)

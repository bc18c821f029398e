import json
import logging

import pytest

from pipeline import schema, stats
from tests.support import ROOT
from tests.support.records import read_split
from tools.audit import cli


def _params(tmp_path):
    """The repository's params, trained one epoch: the tool's wiring, not its accuracy."""
    text = (ROOT / "params.yaml").read_text()
    assert "\n  epochs: 5\n" in text
    path = tmp_path / "params.yaml"
    path.write_text(text.replace("\n  epochs: 5\n", "\n  epochs: 1\n"))
    return path


def _argv(tmp_path, processed, schema_path, folds: str) -> list[str]:
    return [
        *("--folds", folds, "--params", str(_params(tmp_path))),
        *("--data", str(processed), "--schema", str(schema_path)),
        *("--out", str(tmp_path / "reports" / "label_issues_train.json")),
    ]


def test_mnist_audit_ranks_the_training_labels_and_says_where(
    tmp_path, small_processed_dir, mnist_schema, capsys, caplog
):
    with caplog.at_level(logging.INFO):
        assert cli.main(_argv(tmp_path, small_processed_dir, mnist_schema, "2")) == 0
    progress = [r.getMessage() for r in caplog.records if r.name == "tools.audit"]
    assert [line.split(":")[0] for line in progress] == [
        "fold 1/2",
        "fold 1/2, epoch 1/1",
        "fold 2/2",
        "fold 2/2, epoch 1/1",
    ]
    out = tmp_path / "reports" / "label_issues_train.json"
    report = json.loads(out.read_text())
    assert list(report["splits"]) == [schema.TRAIN]
    audit = report["splits"][schema.TRAIN]
    assert audit["audited"] == stats.read_stats(small_processed_dir)[schema.TRAIN].records
    flagged = audit["flagged"]
    assert [f["rank"] for f in flagged] == list(range(1, len(flagged) + 1))
    records = read_split(small_processed_dir, schema.TRAIN, schema.PROCESSED_DTYPE)
    given = dict(zip(records[schema.KEY].tolist(), records[schema.LABEL].tolist(), strict=True))
    assert all(str(given[f["key"].encode()]) == f["given"] for f in flagged)
    assert capsys.readouterr().out == f"{len(flagged)} training labels flagged: {out}\n"


def test_too_many_folds_is_one_line_and_no_report(
    tmp_path, small_processed_dir, mnist_schema, caplog
):
    with caplog.at_level(logging.ERROR):
        status = cli.main(_argv(tmp_path, small_processed_dir, mnist_schema, "100000"))
    assert status == 1
    [line] = [record.getMessage() for record in caplog.records]
    assert line.startswith("--folds 100000: class ") and line.endswith(" or fewer")
    assert len(f"23:59:59 ERROR audit: {line}") <= 120  # as the console shows it
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("folds", ["1", "two", "-3"])
def test_folds_below_two_are_refused_by_the_command_line(folds, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--folds", folds])
    assert exited.value.code == 2
    assert f"'{folds}' is no whole number of 2 or more" in capsys.readouterr().err


def test_the_file_preprocess_excludes_by_is_never_written_over(
    tmp_path, small_processed_dir, mnist_schema, caplog
):
    argv = _argv(tmp_path, small_processed_dir, mnist_schema, "2")
    out = tmp_path / "reports" / "label_issues_train.json"
    out.parent.mkdir()
    out.write_text("the last audit, excluded")
    params = tmp_path / "params.yaml"
    text = params.read_text()
    assert "\n  exclude: data/exclude.txt " in text
    params.write_text(text.replace("exclude: data/exclude.txt", f"exclude: {out}"))
    with caplog.at_level(logging.ERROR):
        assert cli.main(argv) == 1
    [line] = [record.getMessage() for record in caplog.records]
    assert "is the file preprocess.exclude names" in line and "--out another file" in line
    assert out.read_text() == "the last audit, excluded"

"""Files the pipeline wrote are input too, once they sit on a disk: damaged, replaced by a
link to a device, lying about their size, or in a folder the run may not write. Through
the stage commands, as DVC runs them: one line naming the file and the fix, no traceback,
the previous output untouched.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import components
from components.evaluate.stage import Paths as EvaluatePaths
from components.train.stage import Paths as TrainPaths
from pipeline import artifacts, schema, stats, tfrecord
from tests.support import ROOT
from tests.support.stages import assert_fails_cleanly, run_stage, snapshot

TRAIN = TrainPaths(data="data", schema="schema.json", model="out/model.keras", live="live")
EVALUATE = EvaluatePaths(
    data="data", schema="schema.json", model="model.keras", out="out", serving="serving"
)


@pytest.fixture
def workdir(tmp_path: Path, small_processed_dir: Path, mnist_schema: Path, model: Path) -> Path:
    """Default params, a copy of processed data, its schema and a model, and an `out`
    holding a previous output."""
    params = (ROOT / "params.yaml").read_text().replace("min_accuracy: 0.97", "min_accuracy: 0.0")
    (tmp_path / "p.yaml").write_text(params)
    shutil.copytree(small_processed_dir, tmp_path / "data")
    shutil.copy(mnist_schema, tmp_path / "schema.json")
    shutil.copy(model, tmp_path / "model.keras")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "previous.txt").write_text("the last good output")
    return tmp_path


@pytest.fixture
def model(small_model) -> Path:
    """The reference MLP trained 1 epoch on 1,800 digits."""
    return small_model


def test_a_record_length_tensorflow_would_crash_on_is_one_line(workdir):
    shard = workdir / "data" / schema.split_file(schema.TEST)
    head = struct.pack("<Q", 2**40)
    with open(shard, "ab") as file:  # a header with a valid CRC claiming a terabyte
        file.write(head + tfrecord._masked_crc(head))
    before = snapshot(workdir / "out")
    # In this process: a crash would take pytest's worker down, a failure all the same.
    result = run_stage("evaluate", EVALUATE, cwd=workdir)
    assert_fails_cleanly(
        result, f"{Path('data') / shard.name} is truncated or corrupted", "re-run preprocess"
    )
    assert snapshot(workdir / "out") == before


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda p: (p.unlink(), p.symlink_to("/dev/zero")), "not a regular file"),
        (lambda p: p.write_text(_claims(300_000_000)), "stats.json says 300000000"),
        (lambda p: p.write_text('{"train": NaN}'), "NaN is not a JSON value"),
    ],
    ids=["a_device", "a_lie", "not_json"],
)
def test_a_damaged_stats_file_is_one_line(workdir, damage, said):
    damage(workdir / "data" / artifacts.STATS_FILE)
    before = snapshot(workdir / "out")
    assert_fails_cleanly(run_stage("train", TRAIN, cwd=workdir), said, "re-run preprocess")
    assert snapshot(workdir / "out") == before


def _claims(records: int) -> str:
    split = stats.SplitStats(records, records, (records // 10,) * 10, (0.1,), (0.3,))
    return stats.dumps({s: split for s in schema.PROCESSED_SPLITS})


def test_a_model_file_damaged_in_place_is_one_line(workdir):
    model = workdir / "model.keras"
    content = bytearray(model.read_bytes())
    content[len(content) // 2] ^= 0xFF  # as one flipped byte in DVC's cache copy restores it
    model.write_bytes(bytes(content))
    before = snapshot(workdir / "out")
    result = run_stage("evaluate", EVALUATE, cwd=workdir)
    assert_fails_cleanly(
        result, "model.keras is not a loadable Keras model", "dvc repro --force -s train"
    )
    assert snapshot(workdir / "out") == before


def test_an_emptied_serving_version_is_named_with_the_fix(workdir):
    assert run_stage("evaluate", EVALUATE, cwd=workdir).returncode == 0  # pushes version 1
    (workdir / "serving" / "2").mkdir()  # what a botched copy or cleanup leaves
    before = snapshot(workdir / "out")
    result = run_stage("evaluate", EVALUATE, cwd=workdir)
    assert_fails_cleanly(result, "serving/2 (the latest) holds no SavedModel", "rm -r")
    assert snapshot(workdir / "out") == before


@pytest.mark.parametrize("stage", ["train", "evaluate"])
def test_a_read_only_output_folder_is_one_line(workdir, stage):
    # The folder is bound read-only in a mount namespace of the stage's own: nothing to undo.
    paths = {"train": TRAIN, "evaluate": EVALUATE}[stage]
    folder = workdir / ("out" if stage == "train" else "serving")
    folder.mkdir(exist_ok=True)
    before = snapshot(workdir / "out")
    command = " ".join([sys.executable, *components.arguments(stage, paths, "p.yaml")])
    script = (
        f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec {command}"
    )
    result = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "sh", "-c", script],
        cwd=workdir, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert_fails_cleanly(result, "cannot write ", f"{folder.name}/", "(Read-only file system)")
    assert snapshot(workdir / "out") == before

"""Faults from outside: a disk that fills while a stage writes.

Each stage runs as its real command with a file size limit (RLIMIT_FSIZE), so its first
large write fails as it would on a full disk, wherever in the stage that write is: in
tfds's extraction, a Beam worker, Keras's save, TensorFlow's SavedModel export. Each must
end in one line, leave its previous output as it was, and succeed once there is room.
(A kill during the push, and parallel pushes, are in tests/e2e/test_serving.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.evaluate.stage import Paths as EvaluatePaths
from components.ingest.stage import Paths as IngestPaths
from components.preprocess.stage import Paths as PreprocessPaths
from components.train.stage import Paths as TrainPaths
from pipeline.params import NO_EXCLUDE
from tests.support import ROOT
from tests.support.stages import assert_fails_cleanly, run_stage, snapshot, temps_left

# stage -> (its paths, where its output goes, a limit below its largest file)
CASES = {
    "ingest": (IngestPaths(out="out", schema="schema.json"), "out", 5_000_000),
    "preprocess": (PreprocessPaths(raw="{raw}", schema="{schema}", out="out"), "out", 1_000_000),
    "train": (
        TrainPaths(data="{processed}", schema="{schema}", model="out/model.keras", live="live"),
        "out",
        400_000,
    ),
    "evaluate": (
        EvaluatePaths(
            data="{processed}", schema="{schema}", model="{model}", out="out", serving="serving"
        ),
        "out",
        200_000,
    ),
}


@pytest.fixture
def model(small_model) -> Path:
    """The reference MLP trained 1 epoch on 1,800 digits."""
    return small_model


@pytest.fixture
def inputs(small_raw_dir, small_processed_dir, mnist_schema, model) -> dict[str, Path]:
    """What the stages read, by the name CASES gives each."""
    return {
        "raw": small_raw_dir,
        "processed": small_processed_dir,
        "schema": mnist_schema,
        "model": model,
    }


def _full_disk(tmp_path, stage, mirror_dir, inputs) -> tuple:
    """Runs `stage` on a full disk; checks it failed cleanly; returns how to run it again."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    # Small slices drift by chance; a model of 1,800 digits must still be pushed.
    params["validate"] = {"max_class_drift": 1.0, "max_pixel_mean_drift": 1.0}
    params["evaluate"]["min_accuracy"] = 0.0
    params["preprocess"]["exclude"] = str(ROOT / NO_EXCLUDE)  # the project's own
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "model.keras").write_text("the last good output")
    template, output, limit = CASES[stage]
    paths = type(template)(**{k: v.format(**inputs) for k, v in vars(template).items()})
    env = {"DATA_MIRROR": str(mirror_dir)}
    before = snapshot(tmp_path / output)

    full = run_stage(stage, paths, cwd=tmp_path, env=env, process=True, file_size_limit=limit)
    assert_fails_cleanly(full, "no room to write the output", "(File too large)", "untouched")
    assert snapshot(tmp_path / output) == before
    assert temps_left(tmp_path) == []
    assert not (tmp_path / "live").exists()  # train's outputs are replaced together
    assert not list((tmp_path / "serving").glob("*"))  # no version, not even a hidden one
    assert not (tmp_path / "schema.json").exists()  # ingest's outputs are replaced together

    return paths, env, output, before


@pytest.mark.parametrize("stage", CASES)
def test_a_full_disk_is_one_line_and_leaves_the_previous_output(
    tmp_path, stage, mirror_dir, inputs
):
    _full_disk(tmp_path, stage, mirror_dir, inputs)


def test_the_next_run_completes_once_there_is_room(tmp_path, mirror_dir, inputs):
    # What a full disk leaves is what was there before and no temp (above, every stage):
    # so the next run is an ordinary run. Once here, for the stage that writes the most.
    paths, env, output, before = _full_disk(tmp_path, "preprocess", mirror_dir, inputs)
    room = run_stage("preprocess", paths, cwd=tmp_path, env=env)
    assert room.returncode == 0, room.stderr[-3000:]
    assert snapshot(tmp_path / output) != before

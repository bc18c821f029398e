"""docs/own-data.md's small-folder recipe learns a folder of a few hundred shapes per class.

The recipe's `-S` settings are read from the page and applied to the params file by DVC's
own code for `dvc exp run -S` (Hydra's override grammar), then the four stages run in this
process on shapes the project draws (bench.shapes): the page's command, without DVC's
bookkeeping around it. bench.small_folder measures the same recipe on more seeds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from dvc.utils.hydra import apply_overrides

from bench.shapes import shapes_folder
from bench.small_folder import GOAL, recipe_settings
from components.evaluate.stage import Paths as EvaluatePaths
from components.ingest.stage import Paths as IngestPaths
from components.preprocess.stage import Paths as PreprocessPaths
from components.train.stage import Paths as TrainPaths
from pipeline import artifacts
from pipeline.params import NO_EXCLUDE
from pipeline.reports import HeadlineMetrics
from tests.support import ROOT
from tests.support.stages import run_stage

pytestmark = pytest.mark.e2e

SEED = 2024  # not one of the bench's seeds


def test_the_small_folder_recipe_learns_shapes(tmp_path: Path):
    shapes_folder(tmp_path / "shapes", SEED)
    shutil.copy(ROOT / "params.yaml", tmp_path / "p.yaml")
    data = ["data.dataset=folder", f"data.folder={tmp_path / 'shapes'}"]
    data.append(f"preprocess.exclude={ROOT / NO_EXCLUDE}")  # tmp_path has no exclude file
    apply_overrides(tmp_path / "p.yaml", [*data, *recipe_settings()])
    stages = {
        "ingest": IngestPaths(out="raw", schema="schema.json"),
        "preprocess": PreprocessPaths(raw="raw", schema="schema.json", out="processed"),
        "train": TrainPaths(data="processed", schema="schema.json", model="m.keras", live="live"),
        "evaluate": EvaluatePaths(
            data="processed", schema="schema.json", model="m.keras", out="reports", serving="s"
        ),
    }
    for stage, paths in stages.items():
        result = run_stage(stage, paths, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "is chance after" not in result.stderr
    metrics = json.loads((tmp_path / "reports" / artifacts.METRICS_FILE).read_text())
    assert HeadlineMetrics.from_json(metrics).test.accuracy >= GOAL, metrics

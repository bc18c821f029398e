"""dvc.yaml lists, for each stage, exactly the project code its command imports.

So editing a shared module re-runs the stages that use it and no other (an e2e test
checks that `dvc status` agrees).
"""

from __future__ import annotations

import yaml

from components import STAGES
from tests.support import ROOT
from tests.support.dvc_yaml import stage_code


def test_each_stage_lists_exactly_the_code_it_imports():
    for stage, (listed, imported) in stage_code().items():
        assert listed == imported, f"{stage}: dvc.yaml lists {sorted(listed)}"


def test_the_graph_is_real():
    # A check of the checker: train reads data through pipeline/dataset.py, ingest does not.
    code = {stage: imported for stage, (_, imported) in stage_code().items()}
    assert "pipeline/dataset.py" in code["train"] and "pipeline/dataset.py" not in code["ingest"]
    assert "pipeline/mirror.py" in code["ingest"] and "pipeline/mirror.py" not in code["train"]


def test_the_stage_list_is_the_one_dvc_yaml_runs():
    declared = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert list(declared) == list(STAGES)
    for stage, spec in declared.items():  # each stage runs its own module
        assert spec["cmd"].split()[:4] == ["python", "-m", "components", stage]

"""dvc.yaml lists, for each stage, exactly the project code its command imports, and runs
it with exactly the flags the stage's `Paths` define.

So editing a shared module re-runs the stages that use it and no other (an e2e test
checks that `dvc status` agrees).
"""

from __future__ import annotations

import dataclasses
import importlib
import re

import yaml

from components import STAGES
from tests.support import ROOT
from tests.support.dvc_yaml import code_of, declared, stage_commands


def test_each_stage_lists_exactly_the_code_it_imports():
    for stage in STAGES:
        assert declared(stage) == code_of(stage), stage


def test_a_stage_imports_its_own_folder_and_pipeline_only():
    for stage in STAGES:
        own = (f"components/{stage}/", "components/__", "pipeline/")
        assert [f for f in code_of(stage) if not f.startswith(own)] == [], stage


def test_the_graph_is_real():
    # A check of the checker: train reads data through pipeline/dataset.py, ingest does not.
    assert "pipeline/dataset.py" in code_of("train") and "pipeline/dataset.py" not in code_of(
        "ingest"
    )
    assert "components/ingest/mirror.py" in code_of("ingest")


def test_the_stage_list_is_the_one_dvc_yaml_runs():
    declared_stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert list(declared_stages) == list(STAGES)


def test_each_command_runs_its_stage_with_the_flags_of_its_paths():
    # `exec`: the stage is DVC's own child, so it stops when DVC is killed (pipeline/signals.py),
    # whichever shell DVC runs the command with; tests/e2e/test_failures.py meets it.
    for stage, command in stage_commands().items():
        assert command.split()[:5] == ["exec", "python", "-m", "components", stage]
        paths = importlib.import_module(f"components.{stage}.stage").Paths
        flags = re.findall(r"--(\w+)", command)
        assert flags == [field.name for field in dataclasses.fields(paths)], stage


def test_each_stage_docstring_shows_the_command_with_the_flags_of_its_paths():
    # The usage line a reader copies from the module's docstring must run.
    for stage in STAGES:
        module = importlib.import_module(f"components.{stage}.stage")
        usage = module.__doc__.split(f"python -m components {stage}", 1)[1].split("\n\n")[0]
        flags = re.findall(r"--(\w+)", usage)
        assert flags == [field.name for field in dataclasses.fields(module.Paths)], stage


def test_every_output_persists_so_a_failed_run_keeps_the_previous_one():
    # DVC deletes an output before its stage runs unless it is `persist: true`; the stages
    # replace their outputs atomically themselves (docs/troubleshooting.md).
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for stage, spec in stages.items():
        outputs = [out for kind in ("outs", "metrics", "plots") for out in spec.get(kind, [])]
        assert outputs, stage
        for out in outputs:
            (path, options), *_ = out.items() if isinstance(out, dict) else [(out, {})]
            assert options.get("persist") is True, f"{stage}: {path} is not persist: true"

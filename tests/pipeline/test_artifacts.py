import re

import yaml

from pipeline import artifacts
from tests.support import ROOT


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*_strings(key), *_strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_dvc_yaml_takes_its_folder_and_file_names_from_this_module():
    declared = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    assert declared["vars"] == ["pipeline/artifacts.py"]
    spelled = [re.sub(r"\$\{[^}]*\}", "", s) for s in _strings(declared["stages"])]
    spelled += [re.sub(r"\$\{[^}]*\}", "", s) for s in _strings(declared["plots"])]
    spelled = [s for s in spelled if not s.startswith(("pipeline/", "components/"))]  # code
    for value in (*artifacts.paths.values(), *artifacts.files.values()):
        assert not [s for s in spelled if value in s], f"dvc.yaml spells {value} itself"


def test_under_puts_every_path_under_the_root(tmp_path):
    placed = artifacts.under(tmp_path)
    assert set(placed) == set(artifacts.paths)
    assert all(path.is_relative_to(tmp_path) for path in placed.values())

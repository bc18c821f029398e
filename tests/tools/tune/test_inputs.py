"""A folder dataset no trial's copy of the project would hold is refused before a trial."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.errors import PipelineError
from tests.support import ROOT
from tools.tune.inputs import check_folder_tracked


def _project(root: Path, dataset: str, folder: str) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(dataset=dataset, folder=folder)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "data" / "images" / "train").mkdir(parents=True)
    (root / "data" / "images" / "train" / "a.png").write_bytes(b"png")
    return root


def test_an_untracked_folder_inside_the_project_is_refused_naming_dvc_add(tmp_path):
    with pytest.raises(PipelineError) as refused:
        check_folder_tracked(_project(tmp_path, "folder", "data/images"))
    message = str(refused.value)
    assert "no trial can see data.folder 'data/images'" in message
    assert "dvc add it" in message and len(message) <= 120


@pytest.mark.parametrize("spelt", ["./data/images/", "data/../data/images"])
def test_the_folder_is_found_however_it_is_spelt(tmp_path, spelt):
    with pytest.raises(PipelineError, match=r"see data\.folder 'data/images'"):
        check_folder_tracked(_project(tmp_path, "folder", spelt))


def test_a_folder_dvc_tracks_or_git_tracks_passes(tmp_path):
    root = _project(tmp_path, "folder", "data/images")
    (root / "data" / "images.dvc").write_text("outs:\n- path: images\n")
    check_folder_tracked(root)
    (root / "data" / "images.dvc").unlink()
    (root / "data.dvc").write_text("outs:\n- path: data\n")  # a folder above it
    check_folder_tracked(root)
    (root / "data.dvc").unlink()
    subprocess.run(["git", "add", "data/images"], cwd=root, check=True)
    check_folder_tracked(root)


def test_a_folder_outside_the_project_and_a_tfds_dataset_pass(tmp_path):
    for name in ("outside", "tfds"):
        (tmp_path / name).mkdir()
    check_folder_tracked(_project(tmp_path / "outside", "folder", str(tmp_path / "elsewhere")))
    check_folder_tracked(_project(tmp_path / "tfds", "mnist", "data/images"))

"""A folder dataset no experiment's copy of the project would hold is told before it fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT
from tools.inputs import unseen_folder


def _project(root: Path, dataset: str, folder: str) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(dataset=dataset, folder=folder)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "data" / "images" / "train").mkdir(parents=True)
    (root / "data" / "images" / "train" / "a.png").write_bytes(b"png")
    return root


def test_an_untracked_folder_inside_the_project_is_told_naming_dvc_add(tmp_path):
    said = unseen_folder(_project(tmp_path, "folder", "data/images"))
    assert said is not None and "no experiment sees data.folder 'data/images'" in said
    assert "dvc add it" in said and len(said) <= 100  # with a tool's name, within 120


@pytest.mark.parametrize("spelt", ["./data/images/", "data/../data/images"])
def test_the_folder_is_found_however_it_is_spelt(tmp_path, spelt):
    said = unseen_folder(_project(tmp_path, "folder", spelt))
    assert said is not None and "data.folder 'data/images'" in said


def test_a_folder_dvc_tracks_or_git_tracks_is_seen(tmp_path):
    root = _project(tmp_path, "folder", "data/images")
    (root / "data" / "images.dvc").write_text("outs:\n- path: images\n")
    assert unseen_folder(root) is None
    (root / "data" / "images.dvc").unlink()
    (root / "data.dvc").write_text("outs:\n- path: data\n")  # a folder above it
    assert unseen_folder(root) is None
    (root / "data.dvc").unlink()
    assert unseen_folder(root) is not None
    subprocess.run(["git", "add", "data/images"], cwd=root, check=True)
    assert unseen_folder(root) is None


def test_a_folder_outside_the_project_and_a_tfds_dataset_are_seen(tmp_path):
    for name in ("outside", "tfds"):
        (tmp_path / name).mkdir()
    assert unseen_folder(_project(tmp_path / "outside", "folder", str(tmp_path / "x"))) is None
    assert unseen_folder(_project(tmp_path / "tfds", "mnist", "data/images")) is None


def test_params_that_do_not_read_are_left_to_the_stages(tmp_path):
    assert unseen_folder(tmp_path) is None  # no params.yaml at all

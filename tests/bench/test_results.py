"""The committed bench results: made on some machine, they name no place on it."""

from __future__ import annotations

import json

import pytest

from bench import results


@pytest.mark.parametrize("name", results.names())
def test_no_result_names_a_path_on_the_machine_that_ran_it(name):
    found = json.loads((results.RESULTS / f"{name}.json").read_text())
    assert results.machine_paths(found) == []


@pytest.mark.parametrize(
    "said",
    [
        "/tmp/bench-x/digit.png: 1 (0.988)",
        "mirror: /home/someone/mnist/train-images-idx3-ubyte.gz is missing",
        "~/mnist is not a folder",
        "/root",
        "C:\\Users\\someone\\mnist",
    ],
)
def test_a_machine_path_anywhere_in_a_result_is_found(said):
    assert results.machine_paths({"rows": [{"said": said}]}) == [f"/rows/0/said: {said}"]
    assert results.machine_paths({said: 1})  # keys too


@pytest.mark.parametrize(
    "said", ["1,000 images: images/s", "peak RSS MiB (/ digit)", "models/serving/1", "0..9"]
)
def test_ratios_and_project_paths_are_not_machine_paths(said):
    assert results.machine_paths([said]) == []


def test_a_path_is_kept_relative_to_the_bench_scratch_folder_or_the_project(tmp_path):
    assert results.relative(tmp_path / "a" / "b.png", scratch=tmp_path) == "a/b.png"
    assert results.relative(results.RESULTS / "x.json") == "bench/results/x.json"
    assert results.relative("/elsewhere/models/serving/1") == "serving/1"
    line = f"{tmp_path}/digit.png: 1 (0.988)"
    assert results.unscratched(line, tmp_path) == "digit.png: 1 (0.988)"

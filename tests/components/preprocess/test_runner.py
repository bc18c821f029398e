import os

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import StandardOptions

from components.preprocess import runner
from pipeline.errors import PipelineError


def test_the_dask_runner_is_named_by_its_class_path_once_its_extra_is_there():
    options = runner.options("DaskRunner", [])
    assert (
        options.view_as(StandardOptions).runner == "apache_beam.runners.dask.dask_runner.DaskRunner"
    )


def test_a_misspelt_flag_is_refused_with_the_closest_one():
    with pytest.raises(
        PipelineError,
        match=r"unknown flag '--direct_num_worker=2'; did you mean --direct_num_workers\?",
    ):
        runner.options("FnApiRunner", ["--direct_num_worker=2"])


def divide_by_zero(value: int) -> float:
    return value / 0


def test_a_bug_in_a_transform_is_one_line_and_keeps_its_whole_traceback():
    p = beam.Pipeline(options=runner.options("FnApiRunner", []))
    _ = p | beam.Create([1]) | "Divide" >> beam.Map(divide_by_zero)
    with pytest.raises(PipelineError) as failed:
        runner.run(p, started=lambda: True, start_timeout=60)
    line = str(failed.value)
    assert line.startswith("preprocess: the Beam pipeline failed on FnApiRunner: ")
    assert "\n" not in line and len(line) < 400
    # The developer's evidence: the worker's own traceback, down to the failing function.
    assert "ZeroDivisionError" in failed.value.evidence
    assert (
        "in divide_by_zero" in failed.value.evidence and "return value / 0" in failed.value.evidence
    )


def test_local_paths_become_absolute_for_workers_in_other_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runner.absolute("data/raw") == os.path.join(tmp_path, "data/raw")

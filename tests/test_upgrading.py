"""What the project relies on in its dependencies beyond their public APIs, one test each.

An upgrade that changes one of these fails here, with a message pointing at the section of
docs/upgrading.md that says why the use exists and what to do, rather than somewhere deep
in a pipeline run.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import socket
import subprocess
import sys

import keras
import pytest
import tensorflow as tf

from components import models
from pipeline import cli, dataset
from tests.support import ROOT
from tests.support.records import default_params


def _guide(section: str) -> str:
    return f"see docs/upgrading.md, '{section}'"


def test_tfds_builders_keep_the_two_methods_ingest_calls():
    import tensorflow_datasets as tfds

    builder = tfds.builder("mnist")
    generators = getattr(builder, "_split_generators", None)
    examples = getattr(builder, "_generate_examples", None)
    assert callable(generators) and callable(examples), _guide("tfds's split generators")
    assert list(inspect.signature(generators).parameters) == ["dl_manager"], _guide(
        "tfds's split generators"
    )


def test_keras_can_still_create_the_train_steps_variables_up_front():
    assert hasattr(keras.Model, "_symbolic_build"), _guide("Keras's _symbolic_build")
    model = models.build_model(default_params().train, steps_per_epoch=10)
    # What the call is for: the optimizer's and the metrics' variables exist before fit.
    assert model.optimizer.built and model.optimizer.variables, _guide("Keras's _symbolic_build")


def test_beams_option_parser_still_takes_each_options_own_flags():
    from apache_beam.options import pipeline_options
    from apache_beam.options.pipeline_options import PipelineOptions

    assert hasattr(pipeline_options, "_BeamArgumentParser"), _guide("Beam's option parser")
    parser = pipeline_options._BeamArgumentParser(allow_abbrev=False)
    for cls in PipelineOptions.__subclasses__():
        cls._add_argparse_args(parser)
    flags = {option for action in parser._actions for option in action.option_strings}
    assert {"--runner", "--job_endpoint", "--direct_num_workers"} <= flags, _guide(
        "Beam's option parser"
    )


def test_beams_dask_runner_still_hands_back_its_client():
    from apache_beam.runners.dask.dask_runner import DaskRunnerResult

    fields = {field.name for field in dataclasses.fields(DaskRunnerResult)}
    assert "client" in fields, _guide("Beam's Dask runner")


def test_tensorflow_prints_only_the_start_up_lines_the_stages_hold_back():
    # The stages hide these lines by their text (pipeline.cli): a new one would reach users.
    result = subprocess.run(
        [sys.executable, "-c", "import tensorflow as tf; tf.constant(1) + 1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    unknown = [
        line for line in result.stderr.splitlines() if line and not cli._STARTUP_NOISE.search(line)
    ]
    assert result.returncode == 0 and unknown == [], f"{unknown}: {_guide('start-up noise')}"


def test_tensorflows_errors_on_hostile_records_are_ones_the_stages_catch():
    with pytest.raises(dataset._READ_ERRORS):
        tf.io.parse_example(tf.constant([b"\x80\xff"]), dataset._FEATURES)


def test_grpc_servers_can_still_be_bound_to_loopback_only():
    # local_cluster narrows every port Beam's services bind to 127.0.0.1 by wrapping
    # grpc.server's add_insecure_port.
    script = (
        "import grpc\n"
        "from concurrent import futures\n"
        "from components import local_cluster\n"
        "local_cluster._bind_loopback_only()\n"
        "server = grpc.server(futures.ThreadPoolExecutor(1))\n"
        "print(server.add_insecure_port('[::]:0'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, f"{result.stderr[-2000:]}: {_guide('gRPC bind address')}"
    port = int(result.stdout.strip())
    assert port > 0, _guide("gRPC bind address")
    with socket.socket() as sock:  # the port was bound on loopback: it is free there again
        sock.bind(("127.0.0.1", port))

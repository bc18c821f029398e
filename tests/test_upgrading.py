"""What the project relies on in its dependencies beyond their public APIs, one test each.

An upgrade that changes one of these fails here, with a message pointing at the section of
docs/upgrading.md that says why the use exists and what to do, rather than somewhere deep
in a pipeline run.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import subprocess
import sys

import keras
import pytest
import tensorflow as tf

from components.train import keras_archive, models
from pipeline import dataset, startup
from tests.support import ROOT
from tests.support.records import MNIST, default_params


def _guide(section: str) -> str:
    return f"see docs/upgrading.md, '{section}'"


def _printed_json(script: str, guide: str) -> object:
    """What a Python script run in a fresh process prints last, as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, f"{result.stderr[-2000:]}: {guide}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_tfds_builders_keep_the_two_methods_ingest_calls():
    import tensorflow_datasets as tfds

    builder = tfds.builder("mnist")
    generators = getattr(builder, "_split_generators", None)
    examples = getattr(builder, "_generate_examples", None)
    assert callable(generators) and callable(examples), _guide("tfds's split generators")
    assert list(inspect.signature(generators).parameters) == ["dl_manager"], _guide(
        "tfds's split generators"
    )


def test_tfds_builders_still_download_from_their_url_attribute(mirror_dir):
    import tensorflow_datasets as tfds

    # ingest points the builder's `URL` at the mirror; its download manager reads it from
    # the split generators as `urljoin(URL, file)`.
    source = inspect.getsource(type(tfds.builder("mnist"))._split_generators)
    assert "self.URL" in source, _guide("tfds's mirror URL")
    from components.ingest import source as ingest_source

    builder = ingest_source.builder("mnist", mirror_dir)
    assert mirror_dir.as_uri() + "/" == builder.URL, _guide("tfds's mirror URL")


def test_keras_archives_still_hold_the_entries_train_rewrites(tmp_path):
    import zipfile

    model = models.build_model(default_params().train, MNIST, steps_per_epoch=1)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        names = set(archive.namelist())
        metadata = archive.read("metadata.json")
        config = archive.read("config.json")
    assert {"metadata.json", "config.json"} <= names, _guide("Keras's .keras archive")
    assert b"date_saved" in metadata and b"shared_object_id" in config, _guide(
        "Keras's .keras archive"
    )
    keras_archive.save_model(model, tmp_path / "stable.keras")
    keras.models.load_model(tmp_path / "stable.keras", safe_mode=True)  # still Keras's own


def test_keras_can_still_create_the_train_steps_variables_up_front():
    assert hasattr(keras.Model, "_symbolic_build"), _guide("Keras's _symbolic_build")
    model = models.build_model(default_params().train, MNIST, steps_per_epoch=10)
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
    # The stages hide these lines by their text (pipeline.startup): a new one would reach users.
    result = subprocess.run(
        [sys.executable, "-c", "import tensorflow as tf; tf.constant(1) + 1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    unknown = [
        line
        for line in result.stderr.splitlines()
        if line and not startup.STARTUP_NOISE.search(line)
    ]
    assert result.returncode == 0 and unknown == [], f"{unknown}: {_guide('start-up noise')}"


def test_tensorflows_errors_on_hostile_records_are_ones_the_stages_catch():
    with pytest.raises(dataset._READ_ERRORS):
        tf.io.parse_example(tf.constant([b"\x80\xff"]), dataset._FEATURES)


def test_grpc_servers_can_still_be_bound_to_loopback_only():
    # cluster narrows every port Beam's services bind to 127.0.0.1 by wrapping grpc.server's
    # add_insecure_port. The server runs while the kernel's table of listening sockets is
    # read: each of its ports must listen on 127.0.0.1 and nowhere else.
    script = (
        "import grpc, json\n"
        "from concurrent import futures\n"
        "from bench import cluster\n"
        "cluster._bind_loopback_only()\n"
        "server = grpc.server(futures.ThreadPoolExecutor(1))\n"
        "port = server.add_insecure_port('[::]:0')\n"
        "server.start()\n"
        "rows = [line.split() for name in ('tcp', 'tcp6')\n"
        "        for line in open(f'/proc/net/{name}').read().splitlines()[1:]]\n"
        "local = [row[1].rsplit(':', 1)[0] for row in rows\n"
        "         if int(row[1].rsplit(':', 1)[1], 16) == port and row[3] == '0A']\n"
        "server.stop(0)\n"
        "print(json.dumps({'port': port, 'listening_on': local}))\n"
    )
    found = _printed_json(script, _guide("gRPC bind address"))
    assert found["port"] > 0, _guide("gRPC bind address")
    # 127.0.0.1, as IPv4 or IPv4-mapped IPv6 (::ffff:127.0.0.1); "::" would be everywhere.
    loopback = {"0100007F", "0000000000000000FFFF00000100007F"}
    assert found["listening_on"] and set(found["listening_on"]) <= loopback, (
        f"{found}: {_guide('gRPC bind address')}"
    )


def test_uvicorns_h11_protocol_keeps_what_the_header_deadline_uses():
    import asyncio

    import h11
    from uvicorn.config import Config
    from uvicorn.protocols.http.h11_impl import RequestResponseCycle
    from uvicorn.server import ServerState

    from tools.serve.deadline import HeaderDeadline

    guide = _guide("uvicorn's h11 protocol")
    loop = asyncio.new_event_loop()
    try:
        config = Config(app=lambda scope, receive, send: None, http=HeaderDeadline)
        protocol = HeaderDeadline(config, ServerState(), {}, _loop=loop, seconds=1)
    finally:
        loop.close()
    assert protocol.loop is loop and isinstance(protocol.conn, h11.Connection), guide
    assert protocol.cycle is None and hasattr(protocol, "transport"), guide
    assert callable(protocol.on_response_complete), guide
    assert "self.response_complete = " in inspect.getsource(RequestResponseCycle.__init__), guide


def test_dvc_keeps_the_temp_executor_api_mnist_tune_cleans_up_with():
    from dvc.repo.experiments.executor.base import ExecutorInfo, TaskStatus
    from dvc.repo.experiments.executor.local import TempDirExecutor
    from dvc.repo.experiments.queue.tempdir import TempDirQueue

    guide = _guide("DVC's temp experiment executors")
    for owner, name in [
        (TempDirQueue, "iter_active"),
        (TempDirQueue, "get_infofile_path"),
        (ExecutorInfo, "load_json"),
        (ExecutorInfo, "dump_json"),
        (TempDirExecutor, "from_info"),
        (TempDirExecutor, "cleanup"),
    ]:
        assert callable(getattr(owner, name, None)), f"{owner.__name__}.{name}: {guide}"
    assert {"status", "root_dir", "name"} <= {f.name for f in dataclasses.fields(ExecutorInfo)}, (
        guide
    )
    assert hasattr(TaskStatus, "FAILED"), guide


def test_dvc_still_reads_params_with_the_ruamel_yaml_loader_the_settings_reader_uses():
    from dvc.utils.serialize import LOADERS, load_yaml
    from dvc.utils.serialize._yaml import parse_yaml

    guide = _guide("DVC's params reader")
    assert LOADERS[".yaml"] is load_yaml, guide  # what `dvc params`, `-S` and `${...}` read with
    assert inspect.signature(parse_yaml).parameters["typ"].default == "safe", guide
    assert "YAML(typ=typ)" in inspect.getsource(parse_yaml), guide


def test_ruamel_yaml_still_composes_through_the_hooks_the_settings_reader_bounds(
    tmp_path, monkeypatch
):
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import MaxDepthExceededError

    from pipeline import settings
    from pipeline.errors import PipelineError

    guide = _guide("ruamel.yaml's composer")
    yaml = YAML(typ="safe", pure=True)
    yaml.max_depth = 3
    yaml.get_constructor_parser("[[[[1]]]]")
    with pytest.raises(MaxDepthExceededError):
        yaml.composer.get_single_node()
    assert hasattr(yaml.composer, "warn_double_anchors"), guide
    # A long list is refused by the counting composer, before the node check would see it.
    monkeypatch.setattr(settings, "_check", lambda *args: pytest.fail(guide))
    path = tmp_path / "long.yaml"
    path.write_text("- 1\n" * (settings.MAX_VALUES + 1))
    with pytest.raises(PipelineError, match="expands to more than"):
        settings.read_settings(path, prefix="", missing="")


def test_beam_knows_the_dask_runner_by_its_class_path_and_its_options_once_imported():
    # components.preprocess.runner names DaskRunner by its module (_BY_PATH) and imports it
    # before checking flags: Beam registers DaskOptions only when that module is imported.
    script = (
        "import json\n"
        "from apache_beam.options.pipeline_options import PipelineOptions\n"
        "def known():\n"
        "    return 'DaskOptions' in {c.__name__ for c in PipelineOptions.__subclasses__()}\n"
        "before = known()\n"
        "from apache_beam.runners.dask.dask_runner import DaskRunner\n"
        "print(json.dumps([before, known(), DaskRunner.__module__]))\n"
    )
    guide = _guide("Beam's Dask runner")
    before, after, module = _printed_json(script, guide)
    assert (before, after) == (False, True), guide
    from components.preprocess import runner

    assert runner._BY_PATH["DaskRunner"] == module, guide


def test_no_step_of_the_pipeline_is_a_multi_output_pardo():
    # Beam 2.77 on Dask feeds every tagged output to every consumer; SplitByTag stands in.
    import ast

    used = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "components").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "with_outputs"
    ]
    assert used == [], _guide("Beam's Dask runner")


def test_the_warnings_silenced_are_the_ones_this_page_names():
    import tomllib

    page = (ROOT / "docs" / "upgrading.md").read_text()
    section = page[page.index("## Warnings") :]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    filters = config["tool"]["pytest"]["ini_options"]["filterwarnings"]
    ignored = [f.split(":")[1] for f in filters if f.startswith("ignore:")]
    named = {
        "__array__ implementation doesn't accept a copy keyword": "copy keyword",
        "ObjectStore <DiskObjectStore.*was destroyed with .* unclosed pack": "unclosed pack(s)",
    }
    assert sorted(ignored) == sorted(named), _guide("Warnings")
    assert "Two are silenced by name" in section and all(
        words in section for words in named.values()
    ), _guide("Warnings")

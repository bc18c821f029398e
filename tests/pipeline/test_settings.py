"""The settings reader against hostile files: each costs little and is one clear line."""

import resource
import time

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pipeline import settings
from pipeline.errors import PipelineError
from tests.support import ROOT
from tests.support.fuzz import ALIAS_BOMB, spoiled


def _read(path):
    return settings.read_settings(path, prefix="params: ", missing="run from the project root")


def _file(tmp_path, content: bytes | str):
    path = tmp_path / "p.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (ALIAS_BOMB, "expands to more than 10000 values (YAML aliases?)"),
        ("train:\n  epochs: 5\n  epochs: 6\n", "sets 'epochs' twice (lines 2 and 3); keep one"),
        ("a: 1\na: 2\n", "sets 'a' twice (lines 1 and 2)"),
        (b"train:\n  model: \xff\xfe\n", "is not UTF-8 text (byte 16)"),
        ("a: " + "[" * 40 + "]" * 40 + "\n", "nests deeper than 32 levels"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nests deeper than 32 levels"),
        ("a: &x [*x]\n", "holds an alias to itself"),
        ("a: 1\n---\nb: 2\n", "not valid YAML"),
        ("a: [1\n", "not valid YAML at line"),
        # Values the constructor cannot build: ValueError inside PyYAML, not a YAMLError.
        ("seed: 2001-13-45\n", "holds a value YAML cannot build ('month must be in 1..12')"),
        ("a: " + "1" * 5000 + "\n", "holds a value YAML cannot build"),
        ("a: !!float abc\n", "holds a value YAML cannot build"),
        ("2001-13-45: 1\n", "holds a value YAML cannot build"),
        # The same key twice as two spellings of one value: PyYAML would keep the last.
        ("1: a\n0x1: b\n", "sets '0x1' twice (lines 1 and 2)"),
    ],
)
def test_a_hostile_file_is_one_line_and_costs_little(tmp_path, content, message):
    path = _file(tmp_path, content)
    started = time.process_time()
    with pytest.raises(PipelineError) as error:
        _read(path)
    assert time.process_time() - started < 2  # CPU seconds, not wall time: a budget, not a race
    said = str(error.value)
    assert said.startswith(f"params: {path}") and message in said and "\n" not in said


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = _file(tmp_path, "a: [" + "1, " * (settings.MAX_BYTES // 3) + "1]\n")
    with pytest.raises(PipelineError, match=r"is larger than 1 MiB: not a settings file"):
        _read(path)


def test_a_folder_a_device_and_nothing_at_all(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(PipelineError, match=r"folder is a folder, not a settings file"):
        _read(tmp_path / "folder")
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(PipelineError, match=r"zero is not a regular file"):
        _read(tmp_path / "zero")
    with pytest.raises(PipelineError, match=r"nothing not found; run from the project root"):
        _read(tmp_path / "nothing")


def test_an_empty_file_holds_no_settings(tmp_path):
    assert _read(_file(tmp_path, "")) is None
    assert _read(_file(tmp_path, "# only a comment\n")) is None


def test_what_it_reads_is_what_pyyaml_reads(tmp_path):
    for name in ("params.yaml", "tune.yaml", "dvc.yaml"):
        path = ROOT / name
        assert _read(path) == yaml.safe_load(path.read_text()), name


# Arbitrary bytes and spoiled settings: a value, or one PipelineError; never another error,
# never more than a bounded cost.
_PARAMS = (ROOT / "params.yaml").read_bytes()


@given(st.one_of(st.binary(max_size=300), spoiled(st.just(_PARAMS), reach=len(_PARAMS))))
def test_any_file_reads_as_pyyaml_reads_it_or_is_refused(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "p.yaml"
    path.write_bytes(data)
    try:
        value = _read(path)
    except PipelineError as error:
        assert str(error).startswith("params: ") and "\n" not in str(error)
        return
    assert value == yaml.safe_load(data.decode("utf-8"))  # what it accepts, it reads as PyYAML


_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=30,
)


@given(_DOCUMENTS)
def test_any_plain_document_reads_back_as_it_was_written(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("fuzz") / "p.yaml"
    path.write_text(yaml.safe_dump(document))
    assert _read(path) == document


def test_memory_stays_bounded_on_the_bomb(tmp_path):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(PipelineError):
        _read(_file(tmp_path, ALIAS_BOMB))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB


def test_merge_keys_read_as_pyyaml_and_dvc_read_them(tmp_path):
    text = "base: &b {x: 1, y: 1}\ntrain:\n  <<: *b\n  y: 2\n"
    assert (
        _read(_file(tmp_path, text))
        == yaml.safe_load(text)
        == {
            "base": {"x": 1, "y": 1},
            "train": {"x": 1, "y": 2},
        }
    )

"""The settings reader: it reads what DVC reads, and against hostile files each costs
little and is one clear line."""

import resource
import time
import warnings

import pytest
from dvc.utils.serialize import YAMLFileCorruptedError, dumps_yaml, load_yaml
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml.error import ReusedAnchorWarning

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


def _as_dvc_reads(path):
    """params.yaml as DVC reads it (`dvc params diff`, `${...}` in dvc.yaml, `-S`)."""
    return load_yaml(path)


def _same(ours, dvcs) -> bool:
    """One value, to the type: `1`, `1.0` and `True` are equal in Python, not here; NaN is
    itself."""
    return repr(ours) == repr(dvcs)


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
        # No alias, just long: refused once 10000 values are composed, not after all of them.
        ("a: [" + "1," * 400_000 + "1]\n", "expands to more than 10000 values"),
        ("- 1\n" * 200_000, "expands to more than 10000 values"),
        ("a: 1\n---\nb: 2\n", "not valid YAML"),
        ("a: [1\n", "not valid YAML at line"),
        # Values the constructor cannot build: ValueError inside ruamel.yaml, not a YAMLError.
        ("seed: 2001-13-45\n", "holds a value YAML cannot build ('month must be in 1..12')"),
        ("a: " + "1" * 5000 + "\n", "holds a value YAML cannot build"),
        ("a: !!float abc\n", "holds a value YAML cannot build"),
        ("2001-13-45: 1\n", "holds a value YAML cannot build"),
        # The same key twice as two spellings of one value (DVC refuses both as "corrupted").
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


def test_what_it_reads_is_what_dvc_reads(tmp_path):
    for name in ("params.yaml", "tune.yaml", "dvc.yaml"):
        path = ROOT / name
        assert _same(_read(path), _as_dvc_reads(path)), name


# Values as `dvc exp run -S` writes them into params.yaml, or as a person types them; what
# YAML 1.2's core schema makes of each, which is what DVC reads.
_WRITTEN = [
    ("5e-05", 5e-05),  # `-S train.learning_rate=5e-5`: a string under YAML 1.1
    ("1e-4", 1e-4),
    ("1e-1", 0.1),
    ("1E3", 1000.0),
    ("1.0e+3", 1000.0),
    (".5", 0.5),
    ("-.5", -0.5),
    ("5.", 5.0),
    ("0x10", 16),
    ("0o10", 8),
    ("010", 10),  # octal under 1.1
    ("1_000", 1000),  # a string under 1.2's core schema, but ruamel.yaml, and so DVC, read an int
    ("12345678901234567890", 12345678901234567890),
    ("true", True),
    ("False", False),
    ("yes", "yes"),  # booleans under 1.1
    ("on", "on"),
    ("off", "off"),
    ("n", "n"),
    ("~", None),
    ("null", None),
    ("", None),  # `-S data.mirror=null` writes `mirror:`
    ("'5e-05'", "5e-05"),
    ('"yes"', "yes"),
    ("'0x10'", "0x10"),
    ("1:20", "1:20"),  # sexagesimal under 1.1
    ("[0.0001, 2, 'a']", [0.0001, 2, "a"]),
    (".inf", float("inf")),
    ("-.Inf", float("-inf")),
]


@pytest.mark.parametrize(("text", "value"), _WRITTEN, ids=[text for text, _ in _WRITTEN])
def test_a_value_reads_as_yaml_1_2_and_dvc_read_it(tmp_path, text, value):
    path = _file(tmp_path, f"a: {text}\n")
    assert _same(_read(path), {"a": value})
    assert _same(_read(path), _as_dvc_reads(path))


def test_nan_reads_as_dvc_reads_it(tmp_path):
    path = _file(tmp_path, "a: .nan\n")
    assert _same(_read(path), _as_dvc_reads(path)) and repr(_read(path)) == "{'a': nan}"


# Scalars shaped like YAML's numbers, booleans and nulls, near misses included, the ways
# a person or a tool could spell one.
_NUMBERISH = st.one_of(
    st.from_regex(
        r"[-+]?(\.[0-9_]{1,4}|[0-9_]{1,6}(\.[0-9_]{0,4})?)([eE][-+]?[0-9]{1,3})?", fullmatch=True
    ),
    st.from_regex(r"[-+]?0[xXoObB][0-9a-fA-F_]{0,6}", fullmatch=True),
    st.from_regex(r"[-+]?\.(inf|Inf|INF|nan|NaN|NAN|iNf)", fullmatch=True),
    st.from_regex(r"[0-9]{1,4}(:[0-9]{1,2}){1,2}(\.[0-9]*)?", fullmatch=True),
    st.from_regex(
        r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{2}:[0-9]{2})?", fullmatch=True
    ),
    st.sampled_from(
        [
            "y",
            "Y",
            "yes",
            "Yes",
            "YES",
            "n",
            "NO",
            "on",
            "On",
            "OFF",
            "true",
            "True",
            "TRUE",
            "tRUE",
            "false",
            "FALSE",
            "null",
            "Null",
            "NULL",
            "~",
            "",
            "=",
            "<<",
        ]
    ),
)


@given(st.lists(_NUMBERISH, min_size=1, max_size=6))
def test_any_scalar_reads_as_dvc_reads_it(tmp_path_factory, scalars):
    path = tmp_path_factory.mktemp("fuzz") / "p.yaml"
    text = "".join(f"k{i}: {s}\n" for i, s in enumerate(scalars)) + f"l: [{', '.join(scalars)}]\n"
    path.write_text(text)
    try:
        ours = _read(path)
    except PipelineError as error:  # a date that is none: DVC fails on it too
        assert "holds a value YAML cannot build" in str(error) or "not valid YAML" in str(error)
        with pytest.raises((YAMLFileCorruptedError, ValueError)):  # DVC's, raised as it is
            _as_dvc_reads(path)
        return
    assert _same(ours, _as_dvc_reads(path))


# Arbitrary bytes and spoiled settings: a value, or one PipelineError; never another error,
# never more than a bounded cost.
_PARAMS = (ROOT / "params.yaml").read_bytes()


@given(st.one_of(st.binary(max_size=300), spoiled(st.just(_PARAMS), reach=len(_PARAMS))))
def test_any_file_reads_as_dvc_reads_it_or_is_refused(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "p.yaml"
    path.write_bytes(data)
    started = time.process_time()
    try:
        value = _read(path)
    except PipelineError as error:
        assert str(error).startswith("params: ") and "\n" not in str(error)
        return
    finally:
        assert time.process_time() - started < 2
    # What it accepts, it reads as DVC does (DVC reads an empty or false document as {}).
    assert _same(value or {}, _as_dvc_reads(path))


_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=30,
)


@given(st.dictionaries(st.text(max_size=4), _DOCUMENTS, min_size=1))  # params: a mapping
def test_any_document_dvc_writes_reads_back_as_dvc_reads_it(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("fuzz") / "p.yaml"
    path.write_text(dumps_yaml(document))  # DVC's writer, as `dvc exp run -S` uses it
    # As DVC reads it back: not always as written ({'\x85': None}, a YAML line break, reads
    # back as {' ': None}), but the stages must see what DVC sees.
    assert _same(_read(path), _as_dvc_reads(path))


def test_memory_stays_bounded_on_the_bomb(tmp_path):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(PipelineError):
        _read(_file(tmp_path, ALIAS_BOMB))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB


def test_an_anchor_named_twice_reads_as_dvc_reads_it_without_a_warning(tmp_path):
    path = _file(tmp_path, "a: &x 1\nb: &x 2\nc: *x\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ruamel.yaml's warning spans lines: not for a stage
        assert _read(path) == {"a": 1, "b": 2, "c": 2}
    with pytest.warns(ReusedAnchorWarning):  # DVC's own reading says so, in six lines
        assert _same(_read(path), _as_dvc_reads(path))


def test_merge_keys_read_as_dvc_reads_them(tmp_path):
    path = _file(tmp_path, "base: &b {x: 1, y: 1}\ntrain:\n  <<: *b\n  y: 2\n")
    assert _read(path) == {"base": {"x": 1, "y": 1}, "train": {"x": 1, "y": 2}}
    assert _same(_read(path), _as_dvc_reads(path))

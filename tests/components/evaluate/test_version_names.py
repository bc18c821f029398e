"""Version folder names read as TF Serving reads them: differential against TensorFlow's own
integer parse (TSL's safe_strto64, which TF Serving's file system source calls)."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.evaluate import version_names
from tests.support.records import tf


def _tf_serving_reads(name: str) -> int | None:
    """The version TF Serving loads a child named `name` as: TensorFlow's StringToNumber
    parses int64 with the same safe_strto64; a servable's version is non-negative."""
    try:
        value = int(tf.strings.to_number(os.fsencode(name), out_type=tf.int64).numpy())
    except tf.errors.InvalidArgumentError:
        return None
    return value if value >= 0 else None


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("7", 7),
        ("007", 7),  # leading zeros: TF Serving's version 7
        (" 7", 7),  # ASCII white space around is skipped
        ("7\n", 7),
        ("+7", 7),
        ("-0", 0),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),  # beyond int64
        ("-3", None),  # negative: no servable version
        ("٣", None),  # an Arabic-Indic digit: Python's int() reads 3, TF Serving nothing
        ("²", None),  # str.isdigit() says True, int() fails
        ("\xa07", None),  # a no-break space is not ASCII white space
        ("7a", None),
        ("0x7", None),
        ("1e3", None),
        ("7_0", None),  # int() reads 70
        ("", None),
        ("+", None),
        (".8.tmp-42", None),
    ],
)
def test_names_are_read_as_tf_serving_reads_them(name, version):
    assert version_names.parse(name) == version
    assert _tf_serving_reads(name) == version


_PIECES = st.sampled_from(
    [
        *"0123456789+- \t\n\v\f\r٣²\xa0\x85\uff10\u2007ax._",
        "9223372036854775807",
        "9223372036854775808",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=8).map("".join) | st.integers(-(2**64), 2**64).map(str))
def test_the_parse_is_tensorflows(name):
    assert version_names.parse(name) == _tf_serving_reads(name)


def test_a_listing_is_tf_servings_index_of_the_base_folder(tmp_path):
    for name in ("2", "10", "007", "7", " 7", "٣", "²", "notes", ".11.tmp-4", "-1"):
        (tmp_path / name).mkdir()
    (tmp_path / "3").write_text("a file: TF Serving lists it as version 3 all the same")
    listing = version_names.listed(tmp_path)
    assert list(listing.numbered) == [2, 3, 7, 10]
    # Names of one number: the last in byte order is the one TF Serving loads.
    assert listing.numbered[7] == tmp_path / "7"
    assert set(listing.ignored) == {" 7", "007", "٣", "²", "notes", "-1"}  # not the temp folder
    assert version_names.listed(tmp_path / "missing") == version_names.Listing({}, ())
    assert version_names.number(tmp_path / "007") == 7
    with pytest.raises(ValueError, match="is not a version folder"):
        version_names.number(tmp_path / "٣")

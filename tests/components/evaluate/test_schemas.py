"""A served version's schema against this project's data and against its own model."""

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.evaluate import schemas, serving
from pipeline import schema
from pipeline.errors import PipelineError
from tests.support.fuzz import spoiled
from tests.support.records import MNIST, PETS

SHAPES = schema.Schema(32, 32, 3, "uint8", ("circle", "square", "triangle"), schema.RESIZE)


def test_another_datasets_model_is_named_with_both_datasets():
    assert schemas.other_data("version 3", MNIST, SHAPES) == (
        "version 3 serves 0..9 (28x28x1); this project: circle..triangle (32x32x3)"
    )
    assert schemas.other_data("version 3", MNIST, MNIST) is None
    # A version pushed before versions carried a schema came from the MNIST family.
    assert schemas.other_data("version 1", None, MNIST) is None
    assert schemas.other_data("version 1", None, PETS).startswith(
        "version 1 serves digits (28x28x1, no schema.json); this project: cat..newt"
    )
    # The same classes in another order name other answers: another dataset.
    swapped = dataclasses.replace(SHAPES, classes=("square", "circle", "triangle"))
    assert schemas.other_data("version 3", swapped, SHAPES) is not None


def test_a_long_class_name_is_cut_so_two_datasets_fit_a_line():
    names = schema.Schema(8, 8, 1, "uint8", ("a" * 64, "b" * 64, "c" * 64), schema.RESIZE)
    line = schemas.other_data("version 12", names, MNIST)
    assert line == (
        "version 12 serves aaaaaaa.....ccccccc... (8x8x1); this project: 0..9 (28x28x1)"
    )


def test_a_schema_that_is_not_its_models_is_one_line(tmp_path):
    schemas.check_model(tmp_path, MNIST, (28, 28), 10)
    schemas.check_model(tmp_path, PETS, (12, 10, 3), 4)
    with pytest.raises(PipelineError) as said:
        schemas.check_model(tmp_path / "3", SHAPES, (28, 28), 10)
    assert str(said.value) == (
        f"{tmp_path / '3' / serving.SCHEMA} says circle..triangle (32x32x3), "
        "but its model takes 28x28x1 images: they do not go together; restore the version or "
        "remove it"
    )
    with pytest.raises(PipelineError, match="but its model gives 10 classes: they do not go"):
        schemas.check_model(tmp_path, dataclasses.replace(MNIST, classes=("0", "1")), (28, 28), 10)


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (PETS, "does not take 12x10x3 images"),  # the graph cannot reshape it to 28x28
        (dataclasses.replace(MNIST, height=56, width=56, framing=schema.RESIZE), "does not take"),
        (dataclasses.replace(MNIST, classes=("a", "b", "c")), "gives 10 classes"),
    ],
)
def test_a_savedmodel_is_held_to_its_schema_by_one_image(serving_dir, data, said):
    signature = serving.load_signature(serving_dir)
    schemas.check_signature(serving_dir, signature, MNIST)
    with pytest.raises(PipelineError, match=f"but its model {said}"):
        schemas.check_signature(serving_dir, signature, data)


_VALID = json.dumps(SHAPES.to_json()).encode()
_VALUES = st.one_of(
    st.integers(-5, 5000), st.text(max_size=8), st.none(), st.lists(st.text(max_size=70))
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spoiled(st.just(_VALID), len(_VALID))
    | st.fixed_dictionaries({key: _VALUES for key in SHAPES.to_json()}).map(
        lambda d: json.dumps(d).encode()
    ),
    st.tuples(st.integers(1, 64), st.integers(1, 64)),
    st.integers(1, 12),
)
def test_fuzzed_version_schemas_are_one_line_or_a_checked_schema(tmp_path_factory, text, shape, n):
    version = tmp_path_factory.mktemp("version")
    (version / serving.EXTRA).mkdir()
    (version / serving.SCHEMA).write_bytes(text)
    try:
        found = serving.read_version_schema(version)
        schemas.check_model(version, found, shape, n)
    except PipelineError as error:
        assert "\n" not in str(error)
        return
    assert found.check() == found
    assert (found.height, found.width, found.num_classes) == (*shape, n)

import dataclasses
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import agreement, schema
from pipeline.errors import LINE_ROOM, PipelineError
from tests.support.records import MNIST

SPLITS = (schema.TRAIN, schema.VALIDATION)


def test_the_records_own_schema_agrees(small_processed_dir, small_raw_dir):
    agreement.check_schema("s.json", MNIST, small_processed_dir, SPLITS, schema.PROCESSED_DTYPE)
    agreement.check_schema("s.json", MNIST, small_raw_dir, schema.RAW_SPLITS, schema.RAW_DTYPE)


def test_a_huge_schema_is_refused_reading_one_record(small_processed_dir):
    huge = schema.Schema(1024, 1024, 3, "uint8", MNIST.classes, schema.RESIZE)
    tracemalloc.start()
    try:
        with pytest.raises(PipelineError) as error:
            agreement.check_schema(
                "data/schema.json", huge, small_processed_dir, SPLITS, schema.PROCESSED_DTYPE
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    said = str(error.value)
    assert said.startswith("data/schema.json says 1024x1024x3, ") and "784 values" in said
    assert said.endswith(": dvc checkout data/schema.json") and len(said) <= LINE_ROOM
    assert peak < 16 * 2**20  # a record and a read buffer, not the schema's 12 MB an image


shapes = st.tuples(st.integers(1, schema.MAX_SIDE), st.integers(1, schema.MAX_SIDE))


@settings(max_examples=40, deadline=None)
@given(shapes, st.sampled_from([1, 3]), st.integers(2, schema.MAX_CLASSES))
def test_any_schema_is_held_to_the_records(small_processed_dir, side, channels, classes):
    names = tuple(f"class {n}" for n in range(classes))
    claimed = schema.Schema(*side, channels, "uint8", names, schema.RESIZE)
    agrees = claimed.values == 784 and classes == 10
    try:
        agreement.check_schema(
            "data/schema.json", claimed, small_processed_dir, SPLITS, schema.PROCESSED_DTYPE
        )
    except PipelineError as error:
        assert not agrees and len(str(error)) <= LINE_ROOM
        assert "data/schema.json says " in str(error) and "dvc checkout" in str(error)
    else:
        assert agrees


def test_a_split_with_an_empty_first_file_is_left_to_the_stage(tmp_path, small_processed_dir):
    # Nothing to bound the schema by: the stage's own reading says what is wrong.
    import shutil

    data = tmp_path / "data"
    shutil.copytree(small_processed_dir, data)
    (data / schema.split_file(schema.TRAIN)).write_bytes(b"")
    taller = dataclasses.replace(MNIST, height=56, framing=schema.RESIZE)
    agreement.check_schema("s.json", taller, data, (schema.TRAIN,), schema.PROCESSED_DTYPE)

import dataclasses
import fnmatch
import json
import re

import numpy as np
import pytest

from pipeline import schema
from pipeline.errors import PipelineError
from tests.support.records import PETS, SCHEMAS, schema_file


def test_each_shard_file_matches_its_splits_pattern_and_no_other():
    names = [schema.split_file(split, n, 3) for split in schema.PROCESSED_SPLITS for n in range(3)]
    for split in schema.PROCESSED_SPLITS:
        matched = [name for name in names if fnmatch.fnmatch(name, schema.split_pattern(split))]
        assert matched == [schema.split_file(split, n, 3) for n in range(3)]


def test_shard_files_sort_in_shard_order():
    names = [schema.split_file("train", n, 12) for n in range(12)]
    assert sorted(names) == names


def test_example_keys_sort_in_source_order_and_copies_never_collide_with_them():
    keys = [schema.example_key("train", n) for n in (0, 9, 10, 999, 59_999)]
    assert sorted(keys) == keys
    copies = {schema.copy_key(key, copy) for key in keys for copy in (1, 2, 10)}
    assert len(copies) == 15 and not copies & set(keys)


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
def test_a_schema_reads_back_what_ingest_wrote(tmp_path, data):
    path = schema_file(tmp_path, data)
    assert schema.read_schema(path) == data
    written = json.loads(path.read_text())
    assert written["classes"] == list(data.classes)  # readable: the names, by class id
    assert data.values == int(np.prod(data.image_shape)) and data.num_classes == len(data.classes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"height": 0}, "images of 0x10: sides of 1 to 1024 pixels"),
        ({"width": schema.MAX_SIDE + 1}, "sides of 1 to 1024 pixels"),
        ({"channels": 4}, "4 channels: images are grey (1) or RGB (3)"),
        ({"dtype": "float32"}, "pixels of float32: ingest writes uint8"),
        ({"classes": ("cat",)}, "classes must be 2 to 1000 distinct names"),
        ({"classes": ("cat", "cat")}, "classes must be 2 to 1000 distinct names"),
        ({"classes": ("cat", "a,b")}, "class name 'a,b': ',' is not allowed"),
        ({"classes": ("cat", "two\nlines")}, "class name 'two\\nlines': '\\n' is not allowed"),
        ({"classes": ("cat", 3)}, "class name 3: not a string"),
        ({"framing": "crop"}, "framing 'crop' is neither digit nor resize"),
        ({"framing": schema.DIGIT}, "digit framing makes (28, 28, 1) images, not (12, 10, 3)"),
    ],
)
def test_a_schema_the_stages_cannot_follow_is_refused_saying_why(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        dataclasses.replace(PETS, **change).check()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "schema.json not found; re-run ingest"),
        ("[]", "is not a dataset's schema (Schema is not a mapping); re-run ingest"),
        (
            json.dumps({**PETS.to_json(), "channels": 2}),
            "is not a dataset's schema (2 channels: images are grey (1) or RGB (3))",
        ),
        (json.dumps({**PETS.to_json(), "extra": 1}), "Schema has unknown fields ['extra']"),
        (json.dumps({**PETS.to_json(), "height": "12"}), "Schema.height is '12', not a int"),
    ],
)
def test_a_missing_or_foreign_schema_file_is_one_error_naming_the_fix(tmp_path, content, message):
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PipelineError, match=re.escape(message)):
        schema.read_schema(path)


@pytest.mark.parametrize(
    ("name", "as_label", "as_folder"),
    [
        ("newt", None, None),
        ("sea lion", None, None),
        ("Ähre-2+", None, None),
        ("T-shirt/top", None, "'/' is not allowed"),  # Fashion-MNIST's, from tfds
        ("cat.png", None, "'.' is not allowed"),
        ("a,b", "',' is not allowed", "',' is not allowed"),  # a CSV column's value
        ("", "empty", "empty"),
        (" cat", "white space at an end", "white space at an end"),
        ("x" * 65, "over 64 characters", "over 64 characters"),
    ],
)
def test_a_class_name_needs_no_quoting_and_a_folders_is_a_file_name_too(name, as_label, as_folder):
    assert schema.label_problem(name) == as_label
    assert schema.class_name_problem(name) == as_folder

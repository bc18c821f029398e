import numpy as np
import pytest

from components.ingest import source, stage
from pipeline import schema
from tests.support.records import MNIST, read_split


@pytest.mark.parametrize("split", schema.RAW_SPLITS)
def test_ingest_writes_the_mirror_content_as_the_schema_says(raw_dir, mnist, split):
    records = read_split(raw_dir, split, schema.RAW_DTYPE)
    expected_images, expected_labels = mnist[f"{split}_images"], mnist[f"{split}_labels"]
    assert records[schema.IMAGE].dtype == np.uint8
    assert records[schema.LABEL].dtype == np.int64
    # tfds's example key is the index in the IDX files: record i is the files' example i.
    keys = records[schema.KEY].tolist()
    assert keys == [schema.example_key(split, i) for i in range(len(expected_labels))]
    np.testing.assert_array_equal(records[schema.IMAGE], expected_images[..., None])
    np.testing.assert_array_equal(records[schema.LABEL], expected_labels)


def test_ingest_writes_the_schema_it_inferred_from_mnist(ingested_schema):
    # The schema every other test takes MNIST's to be is the one the real ingest writes.
    assert schema.read_schema(ingested_schema) == MNIST


def test_mirror_env_wins_over_params(monkeypatch, tmp_path):
    monkeypatch.setenv(source.MIRROR_ENV, str(tmp_path))
    assert stage.resolve_mirror("/somewhere/else") == str(tmp_path.resolve())
    monkeypatch.delenv(source.MIRROR_ENV)
    assert stage.resolve_mirror(str(tmp_path)) == str(tmp_path.resolve())
    assert stage.resolve_mirror(None) is None

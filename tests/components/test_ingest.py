import socket
import time

import numpy as np
import pytest

from components import ingest
from pipeline import schema
from pipeline.errors import PipelineError
from tests.support.records import read_split


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


def test_mirror_env_wins_over_params(monkeypatch, tmp_path):
    monkeypatch.setenv(ingest.MIRROR_ENV, str(tmp_path))
    assert ingest.resolve_mirror("/somewhere/else") == tmp_path.resolve()
    monkeypatch.delenv(ingest.MIRROR_ENV)
    assert ingest.resolve_mirror(str(tmp_path)) == tmp_path.resolve()
    assert ingest.resolve_mirror(None) is None


def test_offline_without_mirror_fails_fast_saying_how_to_set_one(monkeypatch, tmp_path):
    def unreachable(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    start = time.monotonic()
    with pytest.raises(PipelineError, match=r"cannot reach .* set DATA_MIRROR=") as error:
        ingest.ingest(dataset="mnist", out_dir=tmp_path / "raw", mirror_dir=None)
    assert time.monotonic() - start < 10
    assert "train-images-idx3-ubyte.gz" in str(error.value)
    assert not (tmp_path / "raw").exists()

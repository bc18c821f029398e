import dataclasses

import numpy as np
import pytest

from components.preprocess import checks, shards
from pipeline import codec, schema, transform
from tests.support.records import PETS, SCHEMAS, default_params, read_split


def _params(**changes) -> object:
    return dataclasses.replace(default_params().preprocess, **changes)


def test_auto_shards_follow_what_a_split_will_write():
    sizes = {schema.TRAIN: 48_000_000, schema.TEST: 8_000_000}
    assert shards.shard_counts(sizes, _params(num_shards="auto")) == {
        "train": 1,
        "validation": 1,
        "test": 1,
    }
    many = shards.shard_counts(sizes, _params(num_shards="auto", augment_copies=31))
    # 32 x 43.2 MB of uint8 records, four times that as float32: about 5.5 GB.
    assert many == {"train": 21, "validation": 1, "test": 1}
    assert set(shards.shard_counts(sizes, _params(num_shards=3)).values()) == {3}


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
def test_a_shard_is_its_examples_sorted_by_key_scaled_then_each_round_of_copies(tmp_path, data):
    rng = np.random.default_rng(0)
    keys = np.array([schema.example_key("train", i) for i in (5, 1, 3)], object)
    images = rng.integers(0, 256, (3, *data.image_shape), dtype=np.uint8)
    labels = np.array([2, 1, 3])
    parts = [
        codec.Examples(keys[:2], images[:2], labels[:2]),
        codec.Examples(keys[2:], images[2:], labels[2:]),
    ]  # as a runner batched them
    spec = shards.ShardSpec(str(tmp_path), "train", 1, data, copies=1, seed=7)
    written = shards.write_shard((0, parts), spec)
    assert isinstance(written, checks.Written) and written.summary.examples == 6
    assert (
        written.summary.class_counts.tolist()
        == np.bincount(np.tile(labels, 2), minlength=data.num_classes).tolist()
    )
    records = read_split(tmp_path, "train", schema.PROCESSED_DTYPE, data)
    order = [1, 2, 0]  # keys 1, 3, 5
    assert records[schema.KEY].tolist() == [
        *keys[order].tolist(),
        *(schema.copy_key(k, 1) for k in keys[order]),
    ]
    np.testing.assert_array_equal(records[schema.IMAGE][:3], transform.scale_pixels(images[order]))
    assert records[schema.LABEL].tolist() == [1, 3, 2, 1, 3, 2]


def test_a_shard_with_nothing_in_it_is_an_empty_file(tmp_path):
    spec = shards.ShardSpec(str(tmp_path), "validation", 2, PETS)
    written = shards.write_shard((1, []), spec)
    assert written.summary.examples == 0 and len(written.summary.class_counts) == 4
    assert (tmp_path / schema.split_file("validation", 1, 2)).read_bytes() == b""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from components.preprocess.stage import Paths, preprocess
from pipeline import schema, stats, transform
from tests.support import cluster
from tests.support.records import LOOSE_LIMITS, PETS, default_params, read_split


def _params(**changes) -> object:
    return dataclasses.replace(default_params().preprocess, **changes)


def test_preprocess_outputs_scaled_disjoint_complete_splits(small_raw_dir, small_processed_dir):
    raw = read_split(small_raw_dir, schema.TRAIN, schema.RAW_DTYPE)
    by_key = dict(zip(raw[schema.KEY].tolist(), raw[schema.IMAGE], strict=True))
    parts = {
        s: read_split(small_processed_dir, s, schema.PROCESSED_DTYPE)
        for s in (schema.TRAIN, schema.VALIDATION)
    }
    train_keys, validation_keys = (parts[s][schema.KEY].tolist() for s in parts)
    assert train_keys == sorted(train_keys)  # key-sorted: byte-stable whatever the runner
    assert not set(train_keys) & set(validation_keys)
    assert sorted(train_keys + validation_keys) == sorted(by_key)
    for key, image in zip(validation_keys, parts[schema.VALIDATION][schema.IMAGE], strict=True):
        np.testing.assert_array_equal(image, transform.scale_pixels(by_key[key]))
    written = stats.read_stats(small_processed_dir)
    assert written[schema.VALIDATION].records == len(validation_keys)
    assert written[schema.TEST].examples == written[schema.TEST].records == 500


def _paths(raw: Path, schema_path: Path, out: Path) -> Paths:
    return Paths(raw=str(raw), schema=str(schema_path), out=str(out))


def test_augmented_copies_go_to_train_only_after_its_originals(
    tmp_path, small_raw_dir, mnist_schema
):
    out = tmp_path / "out"
    preprocess(_paths(small_raw_dir, mnist_schema, out), _params(augment_copies=2), LOOSE_LIMITS)
    written = stats.read_stats(out)
    train = read_split(out, schema.TRAIN, schema.PROCESSED_DTYPE)
    n = written[schema.TRAIN].examples
    assert written[schema.TRAIN].records == len(train[schema.KEY]) == 3 * n
    originals = train[schema.KEY][:n].tolist()
    assert originals == sorted(originals)
    for copy in (1, 2):  # each round of copies in its originals' order, a round apart
        copies = train[schema.KEY][copy * n : (copy + 1) * n].tolist()
        assert copies == [schema.copy_key(key, copy) for key in originals]
        np.testing.assert_array_equal(
            train[schema.LABEL][copy * n : (copy + 1) * n], train[schema.LABEL][:n]
        )
        assert not np.array_equal(train[schema.IMAGE][copy * n], train[schema.IMAGE][0])
    for split in (schema.VALIDATION, schema.TEST):  # never a copy of a held-out digit
        keys = read_split(out, split, schema.PROCESSED_DTYPE)[schema.KEY]
        assert written[split].records == written[split].examples == len(keys)
        assert not any(b"-aug" in key for key in keys.tolist())


def _same_files(first, second) -> None:
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.mark.parametrize("runner", ["multi_process", "dask"])
def test_runners_write_identical_bytes_with_copies_and_shards(
    tmp_path, monkeypatch, small_raw_dir, mnist_schema, runner
):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # workers import the installed project
    params = _params(augment_copies=1, num_shards=3)
    preprocess(_paths(small_raw_dir, mnist_schema, tmp_path / "one"), params, LOOSE_LIMITS)
    two = _paths(small_raw_dir, mnist_schema, tmp_path / "two")
    if runner == "multi_process":
        beam_args = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
        params = dataclasses.replace(params, beam_args=beam_args)
        preprocess(two, params, LOOSE_LIMITS)
    else:
        with cluster.dask(workers=2) as address:
            params = dataclasses.replace(
                params, runner="DaskRunner", beam_args=[f"--dask_client_address={address}"]
            )
            preprocess(two, params, LOOSE_LIMITS)
            assert all(run > 0 for run in cluster.dask_tasks_run(address).values())
    _same_files(tmp_path / "one", tmp_path / "two")


def test_real_mnist_validation_never_leaks_into_training(processed_dir):
    keys = {
        s: set(read_split(processed_dir, s, schema.PROCESSED_DTYPE)[schema.KEY].tolist())
        for s in schema.PROCESSED_SPLITS
    }
    assert not keys[schema.TRAIN] & keys[schema.VALIDATION]
    assert len(keys[schema.TRAIN] | keys[schema.VALIDATION]) == 60_000
    assert abs(len(keys[schema.VALIDATION]) - 6000) < 4 * 73
    assert len(keys[schema.TEST]) == 10_000
    written = stats.read_stats(processed_dir)
    # The train+validation pixel mean is MNIST's well-known 0.1307.
    n = {s: written[s].examples for s in (schema.TRAIN, schema.VALIDATION)}
    mean = sum(written[s].pixel_mean[0] * n[s] for s in n) / 60_000
    assert mean == pytest.approx(0.1307, abs=5e-5)


def test_preprocess_follows_the_schema_it_is_given(pets_raw_dir, pets_processed_dir):
    raw = read_split(pets_raw_dir, schema.TRAIN, schema.RAW_DTYPE, PETS)
    by_key = dict(zip(raw[schema.KEY].tolist(), raw[schema.IMAGE], strict=True))
    written = stats.read_stats(pets_processed_dir)
    for split in (schema.TRAIN, schema.VALIDATION):
        part = read_split(pets_processed_dir, split, schema.PROCESSED_DTYPE, PETS)
        assert part[schema.IMAGE].shape[1:] == PETS.image_shape
        for key, image in zip(part[schema.KEY].tolist(), part[schema.IMAGE], strict=True):
            np.testing.assert_array_equal(image, transform.scale_pixels(by_key[key]))
        counts = np.bincount(part[schema.LABEL], minlength=PETS.num_classes).tolist()
        assert list(written[split].examples_per_class) == counts
        # Each channel's statistics, by numpy over that channel of the split's images.
        channels = [part[schema.IMAGE][..., c] for c in range(PETS.channels)]
        assert written[split].pixel_mean == pytest.approx([c.mean() for c in channels], abs=1e-6)
        assert written[split].pixel_std == pytest.approx([c.std() for c in channels], abs=1e-6)
    assert written[schema.TEST].examples == 100

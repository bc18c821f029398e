import numpy as np
import pytest

from components.preprocess import checks
from pipeline import codec, schema
from tests.support.records import (
    LOOSE_LIMITS,
    PETS,
    SCHEMAS,
    default_params,
    random_examples,
    random_records,
)


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
def test_split_stats_fn_matches_numpy(data):
    batch, wrong_size = codec.decode_records(
        random_records(data, "train", 300), schema.RAW_DTYPE, data.image_shape
    )
    assert wrong_size == []
    fn = checks.SplitStatsFn(data)
    halves = [
        fn.add_input(fn.create_accumulator(), batch.take(mask))
        for mask in (np.arange(300) < 120, np.arange(300) >= 120)
    ]
    summary, split_stats = fn.extract_output(fn.merge_accumulators(halves))
    assert summary.examples == 300 and summary.outside_labels == 0
    scaled = batch.images / 255
    assert split_stats.examples == split_stats.records == 300
    assert list(split_stats.examples_per_class) == np.bincount(batch.labels).tolist()
    assert len(split_stats.examples_per_class) == data.num_classes
    # Each channel's own statistics, from numpy one channel at a time.
    channels = [scaled[..., c] for c in range(data.channels)]
    assert split_stats.pixel_mean == pytest.approx([c.mean() for c in channels], abs=1e-6)
    assert split_stats.pixel_std == pytest.approx([c.std() for c in channels], abs=1e-6)


def test_each_channel_has_its_own_statistics():
    # Red at 255 only, green at 0 only, blue half 0 and half 255: a mix-up of channels, or
    # one statistic for all three, would show.
    keys, images, labels = random_examples(PETS, "train", 8)
    images[..., 0], images[..., 1] = 255, 0
    images[:4, ..., 2], images[4:, ..., 2] = 0, 255
    fn = checks.SplitStatsFn(PETS)
    _, split_stats = fn.extract_output(
        fn.add_input(fn.create_accumulator(), codec.Examples(np.array(keys), images, labels))
    )
    assert split_stats.pixel_mean == pytest.approx((1.0, 0.0, 0.5))
    assert split_stats.pixel_std == pytest.approx((0.0, 0.0, 0.5))


def test_an_empty_split_has_zero_statistics_per_channel():
    fn = checks.SplitStatsFn(PETS)
    summary, split_stats = fn.extract_output(fn.create_accumulator())
    assert summary.examples == 0 and summary.class_counts.tolist() == [0, 0, 0, 0]
    assert split_stats.pixel_mean == split_stats.pixel_std == (0.0, 0.0, 0.0)


def test_key_checks_find_duplicates_and_leaks_across_batches_and_buckets():
    def batch(keys):
        return codec.Examples(np.array(keys, object), None, None)

    parts = [
        *checks.bucket_keys(batch([b"k1", b"k2", b"k3"]), "train"),
        *checks.bucket_keys(batch([b"k3", b"k4"]), "train"),  # k3 twice in train
        *checks.bucket_keys(batch([b"k4", b"k9"]), "test"),  # k4 leaks into test
    ]
    buckets: dict[int, list] = {}
    for bucket, part in parts:
        buckets.setdefault(bucket, []).append(part)
    findings = [f for item in buckets.items() for f in checks.check_bucket(item)]
    assert checks.key_anomalies(findings) == [
        "train: duplicate keys k3",
        "1 keys are in both train and test (k4)",
    ]


def test_the_outcome_words_anomalies_in_the_schemas_terms():
    fn = checks.SplitStatsFn(PETS)
    keys, images, labels = random_examples(PETS, "train", 6)
    labels[:] = [0, 1, 0, 1, 0, 4]  # no fish nor newt, and a label past the last class
    source = fn.extract_output(
        fn.add_input(fn.create_accumulator(), codec.Examples(np.array(keys), images, labels))
    )
    findings = [
        checks.Source("train", *source),
        checks.WrongSize("train", [b"train-00099"]),
        checks.Written("train", source[0]),
    ]
    outcome = checks.make_outcome(
        findings, limits=LOOSE_LIMITS, params=default_params().preprocess, data=PETS
    )
    assert outcome.anomalies == [
        "train: 1 images are not (12, 10, 3) (keys b'train-00099')",
        "train: 1 labels outside 0-3 (values 4)",
        "train: no examples of class fish, newt",
    ]
    assert len(outcome.stats["train"].pixel_mean) == 3

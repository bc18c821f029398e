import numpy as np

from components.preprocess import keys
from pipeline import schema


def test_is_validation_is_deterministic_seeded_and_close_to_fraction():
    names = [schema.example_key("train", i) for i in range(60_000)]
    chosen = [keys.is_validation(k, fraction=0.1, seed=42) for k in names]
    assert chosen == [keys.is_validation(k, fraction=0.1, seed=42) for k in names]
    assert chosen != [keys.is_validation(k, fraction=0.1, seed=7) for k in names]
    # Binomial(60000, 0.1): sd ~73; 4 sd is a bound a correct hash never misses.
    assert abs(sum(chosen) - 6000) < 4 * 73


def test_key_buckets_partition_the_keys_and_equal_keys_share_a_bucket():
    names = np.array([schema.example_key("train", i % 700) for i in range(1000)], object)
    seen = np.zeros(len(names), int)
    bucket_of = {}
    for bucket, mask in keys.key_buckets(names, 16):
        assert 0 <= bucket < 16 and mask.any()
        seen += mask
        for key in names[mask]:
            assert bucket_of.setdefault(key, bucket) == bucket
    assert (seen == 1).all()  # every key in exactly one bucket
    assert len(set(bucket_of.values())) == 16  # 700 keys reach all 16

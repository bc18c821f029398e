import numpy as np
import pytest

from components.preprocess import checks
from pipeline import codec, schema
from pipeline.stats import SplitStats


def _records(split: str, n: int, offset: int = 0) -> list[bytes]:
    rng = np.random.default_rng(offset)
    images = rng.integers(0, 256, (n, *schema.IMAGE_SHAPE), dtype=np.uint8)
    keys = [schema.example_key(split, i) for i in range(n)]
    return [codec.encode_example(keys[i], images[i], i % 10) for i in range(n)]


def test_split_stats_fn_matches_numpy():
    records = _records("train", 300)
    batch, wrong_size = codec.decode_records(records, schema.RAW_DTYPE)
    assert wrong_size == []
    fn = checks.SplitStatsFn()
    halves = [
        fn.add_input(fn.create_accumulator(), batch.take(mask))
        for mask in (np.arange(300) < 120, np.arange(300) >= 120)
    ]
    summary, split_stats = fn.extract_output(fn.merge_accumulators(halves))
    assert summary.examples == 300 and summary.outside_labels == 0
    scaled = batch.images / 255
    assert split_stats.examples == split_stats.records == 300
    assert list(split_stats.examples_per_class) == np.bincount(batch.labels).tolist()
    assert split_stats.pixel_mean == pytest.approx(scaled.mean(), abs=1e-6)
    assert split_stats.pixel_std == pytest.approx(scaled.std(), abs=1e-6)


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


def test_the_outcome_reads_back_what_the_pipeline_wrote(tmp_path):
    split = SplitStats(3, 6, (1, 2, 0, 0, 0, 0, 0, 0, 0, 0), 0.1, 0.3)
    outcome = checks.Outcome({"train": split}, ["train: something"])
    mark = checks.StartMark(str(tmp_path))
    assert not mark.left()
    mark.leave()
    checks.write_outcome(outcome, str(tmp_path))
    assert checks.read_outcome(str(tmp_path)) == outcome
    assert not mark.left()  # what only the launcher reads is gone: stats.json stays
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]

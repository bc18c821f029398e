import json

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.io import fileio
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from components import beam_checks
from components import preprocess as pp
from pipeline import artifacts, example, io, schema, transform
from tests.conftest import LOOSE_LIMITS, ROOT, read_split


def _records(split: str, n: int, offset: int = 0) -> list[bytes]:
    rng = np.random.default_rng(offset)
    images = rng.integers(0, 256, (n, *schema.IMAGE_SHAPE), dtype=np.uint8)
    keys = [f"{split}-{i:05d}".encode() for i in range(n)]
    return [example.encode_example(keys[i], images[i], i % 10) for i in range(n)]


def _local_pipeline() -> test_pipeline.TestPipeline:
    # FnApiRunner: Beam 2.77's DirectRunner first tries to download the Prism runner.
    return test_pipeline.TestPipeline(runner="FnApiRunner")


def test_is_validation_is_deterministic_seeded_and_close_to_fraction():
    keys = [f"train-{i:05d}".encode() for i in range(60_000)]
    chosen = [pp.is_validation(k, fraction=0.1, seed=42) for k in keys]
    assert chosen == [pp.is_validation(k, fraction=0.1, seed=42) for k in keys]
    assert chosen != [pp.is_validation(k, fraction=0.1, seed=7) for k in keys]
    # Binomial(60000, 0.1): sd ~73; 4 sd is a bound a correct hash never misses.
    assert abs(sum(chosen) - 6000) < 4 * 73


def test_scale_pixels_is_exactly_x_over_255():
    images = np.resize(np.arange(256, dtype=np.uint8), (1, *schema.IMAGE_SHAPE))
    batch = example.Examples(np.array([b"k"], object), images, np.array([3]))
    scaled = pp.scale_pixels(batch).images
    assert scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled, transform.scale_pixels(images))
    assert scaled.min() == 0.0 and scaled.max() == 1.0


def test_split_stats_fn_matches_numpy():
    records = _records("train", 300)
    batch, wrong_size = example.decode_records(records, schema.RAW_DTYPE)
    assert wrong_size == []
    fn = beam_checks.SplitStatsFn()
    halves = [
        fn.add_input(fn.create_accumulator(), batch.take(mask))
        for mask in (np.arange(300) < 120, np.arange(300) >= 120)
    ]
    summary, stats = fn.extract_output(fn.merge_accumulators(halves))
    assert summary.examples == 300 and summary.outside_labels == 0
    scaled = batch.images / 255
    assert stats["examples"] == 300
    assert list(stats["examples_per_class"].values()) == np.bincount(batch.labels).tolist()
    assert stats["pixel_mean"] == pytest.approx(scaled.mean(), abs=1e-6)
    assert stats["pixel_std"] == pytest.approx(scaled.std(), abs=1e-6)


def test_read_batches_reads_files_in_order_and_in_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(pp, "_READ_BATCH", 4)
    records = _records("train", 10)
    io.write_tfrecords(tmp_path / schema.split_file("train"), records)
    decoded = [example.decode_example(record) for record in records]  # (key, image, label)

    with _local_pipeline() as p:
        batches = (
            p
            | fileio.MatchFiles(str(tmp_path / schema.split_pattern("train")))
            | fileio.ReadMatches()
            | beam.FlatMap(pp.read_batches, "train", str(tmp_path)).with_outputs(
                beam_checks.WRONG_SIZE, beam_checks.UNREADABLE, main="batches"
            )
        ).batches
        assert_that(
            batches | beam.Map(lambda b: (b.keys.tolist(), b.labels.tolist(), b.images.shape)),
            equal_to(
                [
                    (
                        [key for key, _, _ in decoded[i : i + 4]],
                        [label for _, _, label in decoded[i : i + 4]],
                        (len(decoded[i : i + 4]), *schema.IMAGE_SHAPE),
                    )
                    for i in (0, 4, 8)
                ]
            ),
        )


def test_read_batches_reports_bad_records_instead_of_failing(tmp_path):
    good = _records("train", 6)
    short = example.encode_example(b"train-00099", np.zeros(700, np.uint8), 3)
    io.write_tfrecords(tmp_path / "a.tfrecord", [*good[:3], short, *good[3:]])
    (tmp_path / "b.tfrecord").write_bytes((tmp_path / "a.tfrecord").read_bytes()[:-100])
    io.write_tfrecords(tmp_path / "c.tfrecord", [b"not an Example"])
    with _local_pipeline() as p:
        read = (
            p
            | fileio.MatchFiles(str(tmp_path / "*.tfrecord"))
            | fileio.ReadMatches()
            | beam.FlatMap(pp.read_batches, "train", str(tmp_path)).with_outputs(
                beam_checks.FINDINGS, main="batches"
            )
        )
        findings = read[beam_checks.FINDINGS]
        # a.tfrecord: its 6 good examples, the short one apart; b.tfrecord, cut short inside
        # its first batch, and c.tfrecord: nothing but the finding.
        assert_that(read.batches | beam.Map(lambda b: len(b.keys)), equal_to([6]), label="batches")
        assert_that(
            findings | beam.Filter(lambda f: f[0] == beam_checks.WRONG_SIZE),
            equal_to([(beam_checks.WRONG_SIZE, ("train", [b"train-00099"]))]),
            label="wrong_size",
        )
        assert_that(
            findings
            | beam.Filter(lambda f: f[0] == beam_checks.UNREADABLE)
            | beam.Map(lambda f: (f[1].split()[0][-10:], f[1].split()[2])),
            equal_to([("b.tfrecord", "truncated"), ("c.tfrecord", "a")]),
            label="unreadable",
        )
    assert beam_checks.worker_started(str(tmp_path))


def test_key_checks_find_duplicates_and_leaks_across_batches_and_buckets():
    def batch(keys):
        return example.Examples(np.array(keys, object), None, None)

    parts = [
        *beam_checks.bucket_keys(batch([b"k1", b"k2", b"k3"]), "train"),
        *beam_checks.bucket_keys(batch([b"k3", b"k4"]), "train"),  # k3 twice in train
        *beam_checks.bucket_keys(batch([b"k4", b"k9"]), "test"),  # k4 leaks into test
    ]
    buckets: dict[int, list] = {}
    for bucket, part in parts:
        buckets.setdefault(bucket, []).append(part)
    findings = [f for item in buckets.items() for f in beam_checks.check_bucket(item)]
    assert {kind for kind, _ in findings} == {beam_checks.KEYS}
    assert beam_checks.key_report([payload for _, payload in findings]) == [
        "train: duplicate keys k3",
        "1 keys are in both train and test (k4)",
    ]


def test_split_validation_transform_in_test_pipeline():
    train, test = _records("train", 500), _records("test", 50, offset=1)
    expected_validation = [
        f"train-{i:05d}".encode()
        for i in range(500)
        if pp.is_validation(f"train-{i:05d}".encode(), fraction=0.2, seed=3)
    ]
    expected_train = sorted(
        set(f"train-{i:05d}".encode() for i in range(500)) - set(expected_validation)
    )

    def keys(split):
        return splits[split] | f"Keys{split}" >> beam.FlatMap(lambda b: list(b.keys))

    with _local_pipeline() as p:
        raw = {
            # Batches of uneven sizes, as a runner may cut them.
            schema.TRAIN: p
            | "T"
            >> beam.Create(
                [
                    example.decode_records(train[:123], schema.RAW_DTYPE)[0],
                    example.decode_records(train[123:], schema.RAW_DTYPE)[0],
                ]
            ),
            schema.TEST: p
            | "E" >> beam.Create([example.decode_records(test, schema.RAW_DTYPE)[0]]),
        }
        splits = raw | pp.SplitValidation(validation_fraction=0.2, seed=3)
        assert_that(keys(schema.TRAIN), equal_to(expected_train), label="train")
        assert_that(keys(schema.VALIDATION), equal_to(expected_validation), label="val")
        assert_that(
            keys(schema.TEST),
            equal_to([f"test-{i:05d}".encode() for i in range(50)]),
            label="test",
        )


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
    stats = json.loads((small_processed_dir / artifacts.STATS_FILE).read_text())
    assert stats[schema.VALIDATION]["examples"] == len(validation_keys)
    assert stats[schema.TEST]["examples"] == 500


def _preprocess_like_fixture(raw_dir, out_dir, **options):
    """Preprocess with small_processed_dir's settings, plus `options`."""
    pp.preprocess(
        raw_dir=raw_dir,
        out_dir=out_dir,
        validation_fraction=0.1,
        seed=42,
        limits=LOOSE_LIMITS,
        **options,
    )


@pytest.mark.parametrize(
    "beam_args",
    [[], ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]],
    ids=["same_runner_again", "multi_process_runner"],
)
def test_rerun_writes_identical_bytes(
    tmp_path, monkeypatch, small_raw_dir, small_processed_dir, beam_args
):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # multi-process workers import our functions
    again = tmp_path / "again"
    _preprocess_like_fixture(
        small_raw_dir, again, beam_options=PipelineOptions(["--runner=FnApiRunner", *beam_args])
    )
    for path in small_processed_dir.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_sharded_output_holds_the_same_records(tmp_path, small_raw_dir, small_processed_dir):
    sharded = tmp_path / "sharded"
    _preprocess_like_fixture(small_raw_dir, sharded, num_shards=3)
    assert len(list(sharded.glob(schema.split_pattern(schema.TRAIN)))) == 3
    one = read_split(small_processed_dir, schema.TRAIN, schema.PROCESSED_DTYPE)[schema.KEY]
    three = read_split(sharded, schema.TRAIN, schema.PROCESSED_DTYPE)[schema.KEY]
    assert sorted(three.tolist()) == one.tolist()


def test_real_mnist_validation_never_leaks_into_training(processed_dir):
    keys = {
        s: set(read_split(processed_dir, s, schema.PROCESSED_DTYPE)[schema.KEY].tolist())
        for s in schema.PROCESSED_SPLITS
    }
    assert not keys[schema.TRAIN] & keys[schema.VALIDATION]
    assert len(keys[schema.TRAIN] | keys[schema.VALIDATION]) == 60_000
    assert abs(len(keys[schema.VALIDATION]) - 6000) < 4 * 73
    assert len(keys[schema.TEST]) == 10_000
    stats = json.loads((processed_dir / artifacts.STATS_FILE).read_text())
    # The train+validation pixel mean is MNIST's well-known 0.1307.
    n = {s: stats[s]["examples"] for s in (schema.TRAIN, schema.VALIDATION)}
    mean = sum(stats[s]["pixel_mean"] * n[s] for s in n) / 60_000
    assert mean == pytest.approx(0.1307, abs=5e-5)

import dataclasses

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.io import fileio
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from components import beam_checks, local_cluster, shards
from components import preprocess as pp
from pipeline import example, io, schema, stats, transform
from tests.support.records import LOOSE_LIMITS, default_params, read_split


def _records(split: str, n: int, offset: int = 0) -> list[bytes]:
    rng = np.random.default_rng(offset)
    images = rng.integers(0, 256, (n, *schema.IMAGE_SHAPE), dtype=np.uint8)
    keys = [schema.example_key(split, i) for i in range(n)]
    return [example.encode_example(keys[i], images[i], i % 10) for i in range(n)]


def _local_pipeline() -> test_pipeline.TestPipeline:
    # FnApiRunner: Beam 2.77's DirectRunner first tries to download the Prism runner.
    return test_pipeline.TestPipeline(runner="FnApiRunner")


def _params(**changes) -> object:
    return dataclasses.replace(default_params().preprocess, **changes)


def test_is_validation_is_deterministic_seeded_and_close_to_fraction():
    keys = [schema.example_key("train", i) for i in range(60_000)]
    chosen = [pp.is_validation(k, fraction=0.1, seed=42) for k in keys]
    assert chosen == [pp.is_validation(k, fraction=0.1, seed=42) for k in keys]
    assert chosen != [pp.is_validation(k, fraction=0.1, seed=7) for k in keys]
    # Binomial(60000, 0.1): sd ~73; 4 sd is a bound a correct hash never misses.
    assert abs(sum(chosen) - 6000) < 4 * 73


def test_split_stats_fn_matches_numpy():
    records = _records("train", 300)
    batch, wrong_size = example.decode_records(records, schema.RAW_DTYPE)
    assert wrong_size == []
    fn = beam_checks.SplitStatsFn()
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


def _read(p, pattern: str) -> dict[str, beam.PCollection]:
    return (
        p
        | fileio.MatchFiles(pattern)
        | fileio.ReadMatches()
        | beam.FlatMap(pp.read_batches, "train", str(pattern.rsplit("/", 1)[0]))
        | pp.SplitByTag(pp.BATCHES, pp.FINDINGS)
    )


def test_read_batches_reads_files_in_order_and_in_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(pp, "_READ_BATCH", 4)
    records = _records("train", 10)
    io.write_tfrecords(tmp_path / schema.split_file("train"), records)
    decoded = [example.decode_example(record) for record in records]  # (key, image, label)
    with _local_pipeline() as p:
        read = _read(p, str(tmp_path / schema.split_pattern("train")))
        assert_that(
            read[pp.BATCHES] | beam.Map(lambda b: (b.keys.tolist(), b.labels.tolist())),
            equal_to(
                [
                    (
                        [key for key, _, _ in decoded[i : i + 4]],
                        [y for _, _, y in decoded[i : i + 4]],
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
        read = _read(p, str(tmp_path / "*.tfrecord"))
        findings = read[pp.FINDINGS]
        # a.tfrecord: its 6 good examples, the short one apart; b.tfrecord, cut short inside
        # its first batch, and c.tfrecord: nothing but the finding.
        assert_that(read[pp.BATCHES] | beam.Map(lambda b: len(b.keys)), equal_to([6]), label="n")
        assert_that(
            findings | beam.Filter(lambda f: isinstance(f, beam_checks.WrongSize)),
            equal_to([beam_checks.WrongSize("train", [b"train-00099"])]),
            label="wrong_size",
        )
        assert_that(
            findings
            | beam.Filter(lambda f: isinstance(f, beam_checks.Unreadable))
            | beam.Map(lambda f: (f.message.split()[0][-10:], f.message.split()[2])),
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
    assert beam_checks.key_anomalies(findings) == [
        "train: duplicate keys k3",
        "1 keys are in both train and test (k4)",
    ]


def test_split_validation_transform_in_test_pipeline():
    train, test = _records("train", 500), _records("test", 50, offset=1)
    all_keys = [schema.example_key("train", i) for i in range(500)]
    expected_validation = [k for k in all_keys if pp.is_validation(k, fraction=0.2, seed=3)]
    expected_train = sorted(set(all_keys) - set(expected_validation))

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
            equal_to([schema.example_key("test", i) for i in range(50)]),
            label="test",
        )


def test_no_step_of_the_pipeline_has_more_than_one_output(tmp_path):
    # Beam 2.77's DaskRunner feeds every tagged output of a ParDo to every consumer: with a
    # multi-output step, training examples would silently reach validation on Dask.
    p = beam.Pipeline(runner="FnApiRunner")
    counts = dict.fromkeys(schema.PROCESSED_SPLITS, 2)
    pp.build(
        p,
        raw_dir=str(tmp_path),
        out_dir=str(tmp_path),
        params=_params(augment_copies=1),
        limits=LOOSE_LIMITS,
        shards=counts,
    )
    steps = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            steps.append((node.full_label, len(node.outputs)))

    p.visit(Visitor())
    assert len(steps) > 40
    assert [label for label, outputs in steps if outputs > 1] == []


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


def test_augmented_copies_go_to_train_only_after_its_originals(tmp_path, small_raw_dir):
    out = tmp_path / "out"
    pp.preprocess(
        raw_dir=small_raw_dir, out_dir=out, params=_params(augment_copies=2), limits=LOOSE_LIMITS
    )
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


def _same_files(first, second) -> None:
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.mark.parametrize("runner", ["multi_process", "dask"])
def test_runners_write_identical_bytes_with_copies_and_shards(
    tmp_path, monkeypatch, small_raw_dir, runner
):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # workers import the installed project
    params = _params(augment_copies=1, num_shards=3)
    pp.preprocess(
        raw_dir=small_raw_dir, out_dir=tmp_path / "one", params=params, limits=LOOSE_LIMITS
    )
    if runner == "multi_process":
        beam_args = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
        params = dataclasses.replace(params, beam_args=beam_args)
        pp.preprocess(
            raw_dir=small_raw_dir, out_dir=tmp_path / "two", params=params, limits=LOOSE_LIMITS
        )
    else:
        with local_cluster.dask(workers=2) as address:
            params = dataclasses.replace(
                params, runner="DaskRunner", beam_args=[f"--dask_client_address={address}"]
            )
            pp.preprocess(
                raw_dir=small_raw_dir, out_dir=tmp_path / "two", params=params, limits=LOOSE_LIMITS
            )
            assert all(run > 0 for run in local_cluster.dask_tasks_run(address).values())
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
    mean = sum(written[s].pixel_mean * n[s] for s in n) / 60_000
    assert mean == pytest.approx(0.1307, abs=5e-5)

import dataclasses

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.io import fileio
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from components.preprocess import checks, protocol, transforms
from components.preprocess.keys import is_validation
from pipeline import codec, schema, tfrecord
from tests.support.records import LOOSE_LIMITS, MNIST, PETS, SCHEMAS, default_params, random_records


def _local_pipeline() -> test_pipeline.TestPipeline:
    # FnApiRunner: Beam 2.77's DirectRunner first tries to download the Prism runner.
    return test_pipeline.TestPipeline(runner="FnApiRunner")


def _params(**changes) -> object:
    return dataclasses.replace(default_params().preprocess, **changes)


def _read(p, pattern: str, data=MNIST) -> dict[str, beam.PCollection]:
    started = protocol.StartMark(pattern.rpartition("/")[0])
    return (
        p
        | fileio.MatchFiles(pattern)
        | fileio.ReadMatches()
        | beam.ParDo(transforms.ReadFile("train", started, data.image_shape))
        | transforms.SplitByTag(transforms.BATCHES, transforms.FINDINGS)
    )


@pytest.mark.parametrize("data", SCHEMAS.values(), ids=SCHEMAS)
def test_read_batches_reads_files_in_order_and_in_batches(tmp_path, monkeypatch, data):
    monkeypatch.setattr(transforms, "_READ_BATCH", 4)
    records = random_records(data, "train", 10)
    tfrecord.write_tfrecords(tmp_path / schema.split_file("train"), records)
    decoded = [codec.decode_example(record) for record in records]  # (key, image, label)
    with _local_pipeline() as p:
        read = _read(p, str(tmp_path / schema.split_pattern("train")), data)
        batches = read[transforms.BATCHES]
        assert_that(
            batches | beam.Map(lambda b: (b.keys.tolist(), b.labels.tolist())),
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
        assert_that(
            batches | beam.Map(lambda b: (b.images.shape[1:], b.images.dtype)),
            equal_to([(data.image_shape, np.uint8)] * 3),
            label="shapes",
        )


def test_read_batches_reports_bad_records_instead_of_failing(tmp_path):
    good = random_records(MNIST, "train", 6)
    short = codec.encode_example(b"train-00099", np.zeros(700, np.uint8), 3)
    tfrecord.write_tfrecords(tmp_path / "a.tfrecord", [*good[:3], short, *good[3:]])
    (tmp_path / "b.tfrecord").write_bytes((tmp_path / "a.tfrecord").read_bytes()[:-100])
    tfrecord.write_tfrecords(tmp_path / "c.tfrecord", [b"not an Example"])
    with _local_pipeline() as p:
        read = _read(p, str(tmp_path / "*.tfrecord"))
        findings = read[transforms.FINDINGS]
        # a.tfrecord: its 6 good examples, the short one apart; b.tfrecord, cut short inside
        # its first batch, and c.tfrecord: nothing but the finding.
        assert_that(
            read[transforms.BATCHES] | beam.Map(lambda b: len(b.keys)), equal_to([6]), label="n"
        )
        assert_that(
            findings | beam.Filter(lambda f: isinstance(f, checks.WrongSize)),
            equal_to([checks.WrongSize("train", [b"train-00099"])]),
            label="wrong_size",
        )
        assert_that(
            findings
            | beam.Filter(lambda f: isinstance(f, checks.Unreadable))
            | beam.Map(lambda f: (f.message.split()[0][-10:], f.message.split()[2])),
            equal_to([("b.tfrecord", "truncated"), ("c.tfrecord", "a")]),
            label="unreadable",
        )
    assert protocol.StartMark(str(tmp_path)).left()  # the reader's worker said it started


def test_split_validation_transform_in_test_pipeline():
    train, test = random_records(MNIST, "train", 500), random_records(MNIST, "test", 50, seed=1)
    all_keys = [schema.example_key("train", i) for i in range(500)]
    expected_validation = [k for k in all_keys if is_validation(k, fraction=0.2, seed=3)]
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
                    codec.decode_records(train[:123], schema.RAW_DTYPE, MNIST.image_shape)[0],
                    codec.decode_records(train[123:], schema.RAW_DTYPE, MNIST.image_shape)[0],
                ]
            ),
            schema.TEST: p
            | "E"
            >> beam.Create([codec.decode_records(test, schema.RAW_DTYPE, MNIST.image_shape)[0]]),
        }
        splits = raw | transforms.SplitValidation(validation_fraction=0.2, seed=3)
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
    transforms.build(
        p,
        raw_dir=str(tmp_path),
        out_dir=str(tmp_path),
        params=_params(augment_copies=1),
        limits=LOOSE_LIMITS,
        shards=counts,
        data=PETS,
    )
    steps = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            steps.append((node.full_label, len(node.outputs)))

    p.visit(Visitor())
    assert len(steps) > 40
    assert [label for label, outputs in steps if outputs > 1] == []

import dataclasses
import json
import logging
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from components.preprocess import checks, exclude, stage, transforms
from components.preprocess.keys import is_validation
from components.preprocess.stage import Paths, preprocess
from pipeline import codec, schema, stats
from pipeline.errors import PipelineError
from pipeline.params import NO_EXCLUDE
from tests.support import ROOT, cluster
from tests.support.records import (
    LOOSE_LIMITS,
    MNIST,
    PETS,
    default_params,
    random_examples,
    read_split,
    schema_file,
    write_records,
)

FOLDER_KEY = schema.file_key(b"train/cat/0001.png")


def _batch(split: str, n: int, start: int = 0) -> codec.Examples:
    keys, images, labels = random_examples(MNIST, split, start + n)
    return codec.Examples(np.array(keys[start:], object), images[start:], labels[start:])


def _file(tmp_path: Path, text: str, name: str = "exclude.txt") -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


# ---- the file ----


def test_the_default_file_names_nothing():
    assert default_params().preprocess.exclude == NO_EXCLUDE
    assert exclude.read_exclusions(str(ROOT / NO_EXCLUDE)).keys == {}


def test_lines_name_keys_and_folder_files(tmp_path):
    text = (
        "# flagged by the audit\n\ntrain-00042\n  train-00007  \ntrain/cat/0001.png\ntrain-00042\n"
    )
    found = exclude.read_exclusions(_file(tmp_path, text))
    assert found.names == {"train-00042", "train-00007", "train/cat/0001.png"}
    assert found.keys[b"train-00042"] == ("train-00042",)
    assert found.keys[FOLDER_KEY] == ("train/cat/0001.png",)  # the file's record key


def test_an_example_named_twice_answers_to_both_names():
    keys = exclude.named_keys(["train/cat/0001.png", FOLDER_KEY.decode()])
    batch = codec.Examples(np.array([FOLDER_KEY], object), np.zeros((1, 28, 28, 1)), np.zeros(1))
    (found,) = exclude.find_named(batch, "train", keys)
    assert found == checks.Named("train", sorted(["train/cat/0001.png", FOLDER_KEY.decode()]), 1)
    assert len(exclude.drop_named(batch, keys).keys) == 0


def test_the_audits_json_names_its_keys_else_its_files(tmp_path):
    # mnist-audit's fields (issue 33): key, file for a folder, given, suggested, score, rank.
    flagged = [
        {"key": "train-00003", "given": "5", "suggested": "3", "score": 0.01, "rank": 1},
        {"key": FOLDER_KEY.decode(), "file": "train/cat/0001.png", "rank": 2},
        {"file": "train/dog/0002.png", "rank": 3},
    ]
    for report in (flagged, {"audited": 60000, "issues": flagged}, {"train": {"x": flagged}}):
        found = exclude.read_exclusions(_file(tmp_path, json.dumps(report), "audit.json"))
        assert found.names == {"train-00003", FOLDER_KEY.decode(), "train/dog/0002.png"}
        assert schema.file_key(b"train/dog/0002.png") in found.keys


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "not found; create it, or name another file"),
        ('[\n{"key": "train-1"', "is bad JSON at line 2; fix it"),
        ("[" * 100_000, "is JSON nested too deep; fix it"),
        (b"train-1\n\xff\n", "is not UTF-8 (byte 8); save as UTF-8"),
        ("folder", "cannot be read (Is a directory)"),
    ],
    ids=["missing", "json", "deep", "utf8", "folder"],
)
def test_a_bad_file_is_one_short_line(tmp_path, content, said):
    path = tmp_path / "a-long-folder-name-as-a-users-may-be" / "exclude.txt"
    path.parent.mkdir()
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(PipelineError) as error:
        exclude.read_exclusions(str(path))
    message = str(error.value)
    assert message.startswith("preprocess.exclude .../")  # the file, its path cut short
    assert message.split(" ")[1].endswith("/exclude.txt")
    assert said in message
    assert "\n" not in message and len(message) <= 95  # with `12:48:27 ERROR pipeline: `


# ---- the transforms, standalone ----


def test_drop_named_drops_only_the_named():
    batch = _batch("train", 5)
    keys = exclude.named_keys(["train-00001", "train-00003", "test-00002"])
    assert exclude.drop_named(batch, keys).keys.tolist() == [
        b"train-00000",
        b"train-00002",
        b"train-00004",
    ]
    assert list(exclude.find_named(batch, "train", keys)) == [
        checks.Named("train", ["train-00001", "train-00003"], 2)
    ]
    assert list(exclude.find_named(batch, "test", exclude.named_keys(["nope"]))) == []


def test_unmatched_names_are_one_line_naming_one():
    exclusions = exclude.Exclusions("data/exclude.txt", exclude.named_keys(["a", "b", "c"]))
    assert exclude.unmatched(exclusions, {"train": ["a"], "test": ["b", "c"]}) is None
    refusal = exclude.unmatched(exclusions, {"train": ["b"]})
    assert str(refusal) == "preprocess.exclude: 2 match no example ('a', ...); fix or delete them"
    long = exclude.Exclusions("x", exclude.named_keys(["train/cat/" + "x" * 200 + ".png"]))
    assert len(str(exclude.unmatched(long, {}))) <= 95


# ---- the transforms, in a pipeline ----


def test_exclude_from_train_filters_train_and_reports_every_split():
    keys = exclude.named_keys(["train-00002", "train-00011", "train-00021", "test-00001"])
    with test_pipeline.TestPipeline(runner="FnApiRunner") as p:
        splits = {  # batches as a runner may cut them; validation's keys are train's
            schema.TRAIN: p | "T" >> beam.Create([_batch("train", 10), _batch("train", 5, 10)]),
            schema.VALIDATION: p | "V" >> beam.Create([_batch("train", 3, 20)]),
            schema.TEST: p | "E" >> beam.Create([_batch("test", 4)]),
        }
        kept, named = splits | exclude.ExcludeFromTrain(keys)
        train = kept[schema.TRAIN] | "TrainKeys" >> beam.FlatMap(lambda b: b.keys.tolist())
        expected = [schema.example_key("train", i) for i in range(15) if i not in (2, 11)]
        assert_that(train, equal_to(expected), label="train")
        for split, expected in ((schema.VALIDATION, range(20, 23)), (schema.TEST, range(4))):
            held = kept[split] | f"{split}Keys" >> beam.FlatMap(lambda b: b.keys.tolist())
            name = split if split == schema.TEST else "train"
            assert_that(
                held, equal_to([schema.example_key(name, i) for i in expected]), label=split
            )
        assert_that(
            named,
            equal_to(
                [
                    checks.Named("train", ["train-00002"], 1),
                    checks.Named("train", ["train-00011"], 1),
                    checks.Named("validation", ["train-00021"], 1),
                    checks.Named("test", ["test-00001"], 1),
                ]
            ),
            label="named",
        )


# ---- the stage ----


def _paths(raw: Path, schema_path: Path, out: Path) -> Paths:
    return Paths(raw=str(raw), schema=str(schema_path), out=str(out))


def _keys(out: Path, split: str, data: schema.Schema = MNIST) -> list[bytes]:
    return read_split(out, split, schema.PROCESSED_DTYPE, data)[schema.KEY].tolist()


def _same_files(first: Path, second: Path, prefix: str = "") -> None:
    names = sorted(p.name for p in first.iterdir() if p.name.startswith(prefix))
    assert names and names == sorted(p.name for p in second.iterdir() if p.name.startswith(prefix))
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def _params(**changes) -> object:
    return dataclasses.replace(default_params().preprocess, **changes)


def _named(tmp_path: Path, *names: str) -> exclude.Exclusions:
    return exclude.read_exclusions(_file(tmp_path, "\n".join(names)))


def _some_train_and_validation_keys(count: int) -> tuple[list[str], list[str]]:
    params = default_params().preprocess
    train, validation = [], []
    for i in range(2000):
        key = schema.example_key("train", i)
        held = is_validation(key, fraction=params.validation_fraction, seed=params.seed)
        (validation if held else train).append(key.decode())
    return train[:count], validation[:2]


def test_excluded_examples_leave_train_with_their_copies_only(
    tmp_path, small_raw_dir, mnist_schema
):
    dropped, held = _some_train_and_validation_keys(30)
    exclusions = _named(tmp_path, *dropped, *held, "test-00004")
    out, whole = tmp_path / "out", tmp_path / "whole"
    params = _params(augment_copies=1)
    result = preprocess(_paths(small_raw_dir, mnist_schema, out), params, LOOSE_LIMITS, exclusions)
    preprocess(_paths(small_raw_dir, mnist_schema, whole), params, LOOSE_LIMITS)
    assert result.named == {schema.TRAIN: 30, schema.VALIDATION: 2, schema.TEST: 1}
    gone = {name.encode() for name in dropped}
    gone |= {schema.copy_key(key, 1) for key in gone}
    assert set(_keys(whole, schema.TRAIN)) - set(_keys(out, schema.TRAIN)) == gone
    assert set(_keys(out, schema.TRAIN)) < set(_keys(whole, schema.TRAIN))
    for split in (schema.VALIDATION, schema.TEST):  # never filtered: the same bytes
        _same_files(out, whole, prefix=split)
    written, before = stats.read_stats(out), stats.read_stats(whole)
    assert written[schema.TRAIN].examples == before[schema.TRAIN].examples - 30
    assert written[schema.TRAIN].records == 2 * written[schema.TRAIN].examples


def test_naming_only_held_out_examples_changes_no_byte(
    tmp_path, small_raw_dir, small_processed_dir, mnist_schema
):
    _, held = _some_train_and_validation_keys(0)
    out = tmp_path / "out"
    exclusions = _named(tmp_path, *held, "test-00000")
    preprocess(_paths(small_raw_dir, mnist_schema, out), _params(), LOOSE_LIMITS, exclusions)
    _same_files(out, small_processed_dir)


def test_a_name_of_no_example_fails_before_the_output_is_replaced(
    tmp_path, small_raw_dir, mnist_schema
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "previous.txt").write_text("the last good output")
    exclusions = _named(tmp_path, "train-00001", "train-99999", "train/cat/0001.png")
    with pytest.raises(PipelineError) as error:
        preprocess(_paths(small_raw_dir, mnist_schema, out), _params(), LOOSE_LIMITS, exclusions)
    assert str(error.value) == (
        "preprocess.exclude: 2 match no example ('train-99999', ...); fix or delete them"
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in out.iterdir()] == ["previous.txt"]


def test_dask_excludes_the_same_examples(tmp_path, monkeypatch, small_raw_dir, mnist_schema):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # workers import the installed project
    dropped, held = _some_train_and_validation_keys(5)
    exclusions = _named(tmp_path, *dropped, *held)
    params = _params(augment_copies=1, num_shards=2)
    one = _paths(small_raw_dir, mnist_schema, tmp_path / "one")
    preprocess(one, params, LOOSE_LIMITS, exclusions)
    with cluster.dask(workers=2) as address:
        dask = dataclasses.replace(
            params, runner="DaskRunner", beam_args=[f"--dask_client_address={address}"]
        )
        two = _paths(small_raw_dir, mnist_schema, tmp_path / "two")
        result = preprocess(two, dask, LOOSE_LIMITS, exclusions)
    assert result.named == {schema.TRAIN: 5, schema.VALIDATION: 2}
    _same_files(tmp_path / "one", tmp_path / "two")


def test_build_adds_no_step_when_nothing_is_excluded(tmp_path, mnist_schema):
    def labels(excluded):
        p = beam.Pipeline(runner="FnApiRunner")
        transforms.build(
            p,
            raw_dir=str(tmp_path),
            out_dir=str(tmp_path),
            params=_params(),
            limits=LOOSE_LIMITS,
            shards=dict.fromkeys(schema.PROCESSED_SPLITS, 1),
            data=MNIST,
            excluded=excluded,
        )
        return {t.full_label for t in p._current_transform().parts}

    assert "Exclude" not in labels({})
    assert "Exclude" in labels(exclude.named_keys(["train-00001"]))


def test_the_log_counts_the_excluded_and_the_kept(caplog):
    with caplog.at_level(logging.INFO, logger="components.preprocess"):
        stage._log_excluded("data/drop.txt", {"train": 3, "validation": 1, "test": 2}, copies=2)
        stage._log_excluded("data/drop.txt", {"train": 1}, copies=0)
    assert caplog.messages == [
        "excluded 3 training examples named in data/drop.txt, with their 6 augmented copies",
        "kept 1 in validation, 2 in test named in data/drop.txt: only training is filtered",
        "excluded 1 training examples named in data/drop.txt",
    ]


def test_a_folder_datasets_images_are_named_by_file_or_key(tmp_path):
    raw = tmp_path / "raw"
    for split, n in ((schema.TRAIN, 300), (schema.TEST, 40)):
        _, images, labels = random_examples(PETS, split, n)  # classes in turn: 0 is a cat
        paths = [f"{split}/{PETS.classes[y]}/{i:04d}.png".encode() for i, y in enumerate(labels)]
        write_records(raw, split, [schema.file_key(p) for p in paths], images, labels)
    files = [b"train/cat/0000.png", b"train/cat/0004.png", b"train/dog/0001.png"]
    names = [files[0].decode(), files[1].decode(), schema.file_key(files[2]).decode()]
    names.append(schema.file_key(files[0]).decode())  # one image by file and by key: one
    out = tmp_path / "out"
    paths = _paths(raw, schema_file(tmp_path, PETS), out)
    result = preprocess(paths, _params(), LOOSE_LIMITS, _named(tmp_path, *names))
    assert sum(result.named.values()) == 3  # examples, not names
    keys = {s: set(_keys(out, s, PETS)) for s in (schema.TRAIN, schema.VALIDATION)}
    named = {schema.file_key(file) for file in files}
    assert not named & keys[schema.TRAIN]
    assert len(keys[schema.TRAIN]) + len(keys[schema.VALIDATION]) == 300 - len(
        named - keys[schema.VALIDATION]
    )

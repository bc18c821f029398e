import dataclasses
import json
import shutil

import keras
import numpy as np
import pytest
from PIL import Image

from components.evaluate.label_audit import Doubted
from components.evaluate.stage import evaluate
from components.ingest.folder import record_key
from pipeline import artifacts, schema, stats
from tests.support.records import MNIST, PETS, default_params, read_split, write_records
from tests.support.stages import evaluate_paths


def _evaluated(tmp_path, processed, schema_path, model_path) -> dict:
    paths = evaluate_paths(processed, schema_path, model_path, tmp_path)
    evaluate(paths, dataclasses.replace(default_params().evaluate, min_accuracy=0.0, push=False))
    return json.loads((tmp_path / "reports" / artifacts.LABEL_ISSUES_FILE).read_text())


def test_evaluate_audits_test_and_validation_with_the_model_it_scores(
    tmp_path, small_processed_dir, mnist_schema, small_model
):
    report = _evaluated(tmp_path, small_processed_dir, mnist_schema, small_model)
    model = keras.models.load_model(small_model)
    counts = stats.read_stats(small_processed_dir)
    assert list(report["splits"]) == [schema.TEST, schema.VALIDATION]
    for split, audit in report["splits"].items():
        assert audit["audited"] == counts[split].records
        flagged = audit["flagged"]
        assert flagged, "a model trained one epoch on 1,800 digits doubts some labels"
        assert [f["rank"] for f in flagged] == list(range(1, len(flagged) + 1))
        assert [f["score"] for f in flagged] == sorted(f["score"] for f in flagged)
        # Each flagged example, found by its key in TensorFlow's own read of the records:
        # its given class, the model's most probable one, its probability of the given one.
        records = read_split(small_processed_dir, split, schema.PROCESSED_DTYPE)
        where = {key.decode(): i for i, key in enumerate(records[schema.KEY])}
        at = [where[f["key"]] for f in flagged]
        probabilities = model.predict(records[schema.IMAGE][at], verbose=0)
        given = records[schema.LABEL][at]
        assert [f["given"] for f in flagged] == [MNIST.classes[c] for c in given]
        assert [f["suggested"] for f in flagged] == [
            MNIST.classes[c] for c in probabilities.argmax(axis=1)
        ]
        scores = probabilities[np.arange(len(at)), given]
        assert [f["score"] for f in flagged] == pytest.approx(scores.tolist(), abs=1e-5)
        assert all(f["file"] is None for f in flagged)  # MNIST's keys name no file
    metrics = json.loads((tmp_path / "reports" / artifacts.LABEL_METRICS_FILE).read_text())
    assert metrics == {"flagged": {s: len(a["flagged"]) for s, a in report["splits"].items()}}
    for picture in artifacts.LABEL_PLOT_FILES.values():
        with Image.open(tmp_path / "reports" / picture) as grid:
            assert grid.width == 840 and grid.height > 84


def test_a_flipped_test_label_the_model_is_sure_of_is_flagged_first_with_its_file(
    tmp_path, small_processed_dir, mnist_schema, small_model
):
    processed = tmp_path / "processed"
    shutil.copytree(small_processed_dir, processed)
    records = read_split(processed, schema.TEST, schema.PROCESSED_DTYPE)
    model = keras.models.load_model(small_model)
    probabilities = model.predict(records[schema.IMAGE], verbose=0)
    labels = records[schema.LABEL].copy()
    correct = probabilities.argmax(axis=1) == labels
    surest = int(np.argmax(np.where(correct, probabilities.max(axis=1), 0)))
    labels[surest] = (labels[surest] + 1) % 10
    # The keys a folder dataset's records have: each names its image file.
    files = [f"test/{label}/{i:04d}.png" for i, label in enumerate(labels)]
    keys = [record_key(file.encode()) for file in files]
    for shard in processed.glob(schema.split_pattern(schema.TEST)):
        shard.unlink()
    write_records(processed, schema.TEST, keys, records[schema.IMAGE], labels)

    report = _evaluated(tmp_path / "run", processed, mnist_schema, small_model)
    first = report["splits"][schema.TEST]["flagged"][0]
    assert first["key"] == keys[surest].decode()
    assert first["file"] == files[surest]
    assert first["given"] == MNIST.classes[labels[surest]]
    assert first["suggested"] == MNIST.classes[records[schema.LABEL][surest]]


def test_the_picture_captions_given_and_suggested_and_says_when_none_were_flagged():
    doubted = Doubted(PETS)
    assert doubted._caption(0, 3) == ["cat -> newt"]
    assert Doubted(PETS).grid().size == (840, 84 + 16)  # one line: "no label ... flagged"
    doubted.images = [(np.zeros(PETS.image_shape, np.float32), 0, 3)] * 11
    assert doubted.grid().size == (840, 2 * (84 + 16))

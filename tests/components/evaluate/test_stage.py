import csv
import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.evaluate import lite, serving
from components.evaluate.stage import evaluate
from pipeline import artifacts, schema, tfrecord
from tests.support.records import PETS, default_params, tf_parse, tinted_examples, train_model
from tests.support.stages import evaluate_paths


def _images_and_labels(serialized):
    features = tf_parse(serialized, schema.PROCESSED_DTYPE)
    return features[schema.IMAGE], features[schema.LABEL]


def test_evaluate_agrees_with_keras_and_writes_reports(
    tmp_path, small_processed_dir, mnist_schema, small_model
):
    model_path = small_model
    paths = evaluate_paths(small_processed_dir, mnist_schema, model_path, tmp_path)
    thresholds = dataclasses.replace(default_params().evaluate, min_accuracy=0.0)
    evaluated = evaluate(paths, thresholds)

    model = keras.models.load_model(model_path)
    # Keras reads the test records itself, through tf.data: an independent path.
    files = tfrecord.split_files(small_processed_dir, schema.TEST)
    test_data = tf.data.TFRecordDataset(files).batch(500).map(_images_and_labels)
    # Known length, or Keras's multi-step loop warns when it runs past the end.
    test_data = test_data.apply(tf.data.experimental.assert_cardinality(1))
    keras_loss, keras_accuracy = model.evaluate(test_data, verbose=0)
    assert evaluated.test.accuracy == pytest.approx(keras_accuracy, abs=1e-6)
    assert evaluated.test.loss == pytest.approx(keras_loss, rel=1e-4)

    written = json.loads((tmp_path / "reports" / artifacts.METRICS_FILE).read_text())
    assert written == {"test": evaluated.test.to_json(), "blessed": True}
    with (tmp_path / "reports" / artifacts.PREDICTIONS_FILE).open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 500
    hits = sum(row["actual"] == row["predicted"] for row in rows)
    assert hits / 500 == pytest.approx(evaluated.test.accuracy)
    with (tmp_path / "reports" / artifacts.PER_CLASS_FILE).open() as f:
        per_class = list(csv.DictReader(f))
    assert [row["class"] for row in per_class] == [str(c) for c in range(10)]
    # Recall of a class is its share of hits among its examples in predictions.csv.
    for row in per_class:
        of_class = [r for r in rows if r["actual"] == row["class"]]
        hits = sum(r["predicted"] == row["class"] for r in of_class)
        assert float(row["recall"]) == pytest.approx(hits / len(of_class), abs=1e-6)
    assert evaluated.blessing.pushed_version == 1  # nothing served: the value check blessed it


def test_evaluate_reports_and_serves_in_the_schemas_terms(
    tmp_path, pets_processed_dir, pets_schema
):
    params = dataclasses.replace(default_params().train, epochs=3, batch_size=20)
    model_path = train_model(tmp_path, pets_processed_dir, pets_schema, params)
    thresholds = dataclasses.replace(default_params().evaluate, min_accuracy=0.0)
    paths = evaluate_paths(pets_processed_dir, pets_schema, model_path, tmp_path)
    evaluated = evaluate(paths, thresholds)

    reports = tmp_path / "reports"
    with (reports / artifacts.PREDICTIONS_FILE).open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 100
    # The test split's classes in turn (tests.support.records.random_examples), by name.
    assert [row["actual"] for row in rows] == [PETS.classes[i % 4] for i in range(100)]
    assert {row["predicted"] for row in rows} <= set(PETS.classes)
    with (reports / artifacts.PER_CLASS_FILE).open() as f:
        assert [row["class"] for row in csv.DictReader(f)] == list(PETS.classes)
    with Image.open(reports / artifacts.MISCLASSIFIED_FILE) as grid:
        assert grid.mode == "RGB"

    version = tmp_path / "serving" / str(evaluated.blessing.pushed_version)
    assert serving.read_version_schema(version) == PETS
    _, images, labels = tinted_examples(PETS, schema.TEST, 100, seed=1)
    served = serving.load_signature(version)(images=tf.constant(images))["classes"].numpy()
    hits = float(np.mean(served == labels))
    assert hits == pytest.approx(evaluated.test.accuracy)  # the raw images, through serving
    on_lite = lite.LiteModel(version / serving.TFLITE_MODEL)(images).argmax(1)
    np.testing.assert_array_equal(on_lite, served)

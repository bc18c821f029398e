import csv
import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from components import evaluate as ev
from components import train as tr
from pipeline import artifacts, io, schema
from tests.support.records import default_params, tf_parse


def test_score_on_a_hand_made_case():
    labels = np.array([0, 0, 1, 1, 2])
    probabilities = np.full((5, 10), 0.01)
    for row, predicted in enumerate([0, 1, 1, 1, 0]):
        probabilities[row, predicted] = 0.91
    metrics = ev.score(labels, probabilities)
    assert metrics["test"]["accuracy"] == pytest.approx(3 / 5)
    # Class 0: predicted twice, right once; class 1: predicted 3 times, right twice.
    assert metrics["per_class"]["0"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})
    assert metrics["per_class"]["1"]["precision"] == pytest.approx(2 / 3)
    assert metrics["per_class"]["1"]["recall"] == pytest.approx(1.0)
    assert metrics["per_class"]["2"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    expected_loss = -np.mean(np.log([0.91, 0.01, 0.91, 0.91, 0.01]))
    assert metrics["test"]["loss"] == pytest.approx(expected_loss)


def _images_and_labels(serialized):
    features = tf_parse(serialized, schema.PROCESSED_DTYPE)
    return features[schema.IMAGE], features[schema.LABEL]


def test_evaluate_agrees_with_keras_and_writes_reports(tmp_path, small_processed_dir):
    params = dataclasses.replace(default_params().train, epochs=1)
    tr.train(data_dir=small_processed_dir, model_path=tmp_path / "models.keras", params=params)
    blessing = ev.evaluate(
        data_dir=small_processed_dir,
        model_path=tmp_path / "models.keras",
        out_dir=tmp_path / "reports",
        serving_dir=tmp_path / "serving",
        min_accuracy=0.0,
        max_accuracy_drop=0.0,
    )
    metrics = blessing["candidate"]

    model = keras.models.load_model(tmp_path / "models.keras")
    # Keras reads the test records itself, through tf.data: an independent path.
    files = io.split_files(small_processed_dir, schema.TEST)
    test_data = tf.data.TFRecordDataset(files).batch(500).map(_images_and_labels)
    # Known length, or Keras's multi-step loop warns when it runs past the end.
    test_data = test_data.apply(tf.data.experimental.assert_cardinality(1))
    keras_loss, keras_accuracy = model.evaluate(test_data, verbose=0)
    assert metrics["test"]["accuracy"] == pytest.approx(keras_accuracy, abs=1e-6)
    assert metrics["test"]["loss"] == pytest.approx(keras_loss, rel=1e-4)

    written = json.loads((tmp_path / "reports" / artifacts.METRICS_FILE).read_text())
    assert written == {"test": metrics["test"], "blessed": True}
    with (tmp_path / "reports" / artifacts.PREDICTIONS_FILE).open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 500
    hits = sum(row["actual"] == row["predicted"] for row in rows)
    assert hits / 500 == pytest.approx(metrics["test"]["accuracy"])
    with (tmp_path / "reports" / artifacts.PER_CLASS_FILE).open() as f:
        per_class = list(csv.DictReader(f))
    assert [row["class"] for row in per_class] == [str(c) for c in range(10)]
    # Recall of a class is its share of hits among its examples in predictions.csv.
    for row in per_class:
        of_class = [r for r in rows if r["actual"] == row["class"]]
        hits = sum(r["predicted"] == row["class"] for r in of_class)
        assert float(row["recall"]) == pytest.approx(hits / len(of_class), abs=1e-6)

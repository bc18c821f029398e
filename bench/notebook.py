"""The reference notebook as one process: the benchmark's baseline.

tfds prepares MNIST from the mirror into a fresh data dir, then the notebook's own code runs
unchanged in spirit: load, scale per example, shuffle then take/skip (its leaky split),
batch 200, fit the MLP 5 epochs, evaluate. Prints one JSON line of timings.

    DATA_MIRROR=../shared/data/mnist python bench/notebook.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
start = time.perf_counter()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from components.train.callbacks import EpochLogger  # noqa: E402

imported = time.perf_counter()


def scale(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.cast(image, tf.float32) / 255.0, label


def main() -> None:
    mirror = Path(os.environ["DATA_MIRROR"]).resolve()
    with tempfile.TemporaryDirectory() as data_dir:
        builder = tfds.builder("mnist", data_dir=data_dir)
        builder.URL = mirror.as_uri() + "/"
        builder.download_and_prepare(
            download_dir=f"{data_dir}/downloads",
            download_config=tfds.download.DownloadConfig(try_download_gcs=False),
        )
        prepared = time.perf_counter()
        train, test = builder.as_dataset(split=["train", "test"], as_supervised=True)
        train, test = train.map(scale), test.map(scale)
        num_validation = int(0.1 * builder.info.splits["train"].num_examples)
        train = train.shuffle(10000)
        validation = train.take(num_validation).batch(200)
        train = train.skip(num_validation).batch(200)
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(200, activation="relu"),
                keras.layers.Dense(200, activation="tanh"),
                keras.layers.Dense(200, activation="tanh"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        timer = EpochLogger()
        model.fit(train, epochs=5, validation_data=validation, callbacks=[timer], verbose=0)
        _, accuracy = model.evaluate(test.batch(200), verbose=0)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": imported - start,
                "prepare_s": prepared - imported,
                "after_prepare_s": done - prepared,
                "total_s": done - start,
                "steps_per_s": timer.steady_rate(),
                "test_accuracy": accuracy,
            }
        )
    )


if __name__ == "__main__":
    main()

"""A served version for a bench run where the project has none (no `make repro` yet).

The reference MLP as params.yaml builds it (components.train.models.build_model), trained
one epoch on the first 2,000 MNIST train digits scaled as preprocess scales them, exported
as evaluate pushes a version (components.evaluate.export): the same layout, signatures,
TFLite model and schema, so a server serves it as it serves a pushed one. Its accuracy is
not the point; its size and graph, the pipeline's default model's, are. In a process of
its own: the bench that calls it never imports TensorFlow.

    python -m bench.small_model OUT_VERSION_FOLDER    # DATA_MIRROR names the mirror
"""

from __future__ import annotations

import dataclasses
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.measure import ROOT
from components.evaluate.export import export_saved_model
from components.ingest.mirror import read_mirror
from components.train.models import build_model
from components.train.stage import seed_process
from pipeline import schema, transform
from pipeline.params import load_params

DIGITS = 2000
MNIST = schema.Schema(28, 28, 1, "uint8", tuple("0123456789"), schema.DIGIT)  # as ingest infers


def main(out: str) -> None:
    params = dataclasses.replace(load_params(ROOT / "params.yaml").train, epochs=1)
    seed_process(params.seed)
    mirror = read_mirror(os.environ["DATA_MIRROR"])
    images = transform.scale_pixels(mirror["train_images"][:DIGITS].reshape(-1, *MNIST.image_shape))
    labels = mirror["train_labels"][:DIGITS].astype("int64")
    model = build_model(params, MNIST, steps_per_epoch=-(-DIGITS // params.batch_size))
    model.fit(images, labels, batch_size=params.batch_size, epochs=1, verbose=0)
    export_saved_model(model, out, MNIST)


if __name__ == "__main__":
    main(sys.argv[1])

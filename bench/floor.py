"""The training floor: the train stage's model fed from in-memory numpy arrays.

Compiled exactly as the train stage compiles it (build_model, op determinism on, which also
keeps Keras from switching XLA on), so only the input feed differs from the stage.

python -m bench.floor data/processed params.yaml   # prints {"steps_per_s": ...}
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


from components.train.callbacks import EpochLogger
from components.train.models import build_model
from components.train.stage import seed_process
from pipeline import dataset, schema
from pipeline.params import load_params


def main(data_dir: str, schema_path: str, params_path: str) -> None:
    params = load_params(params_path).train
    seed_process(params.seed)
    data = schema.read_schema(schema_path)
    images, labels = dataset.load(dataset.split_input(data_dir, schema.TRAIN, data))
    held_out = dataset.load(dataset.split_input(data_dir, schema.VALIDATION, data))
    steps = -(-len(labels) // params.batch_size)
    model = build_model(params, data, steps_per_epoch=steps)
    timer = EpochLogger()
    model.fit(
        images,
        labels,
        batch_size=params.batch_size,
        epochs=params.epochs,
        validation_data=held_out,
        callbacks=[timer],
        verbose=0,
    )
    print(json.dumps({"steps_per_s": timer.steady_rate()}))


if __name__ == "__main__":
    main(*sys.argv[1:4])

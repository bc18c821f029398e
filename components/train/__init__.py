"""Train: the Keras model `train.*` describes, fed by tf.data, logged with DVCLive.

- `stage`: the stage's entry and `train()`;
- `models`: the architectures, built and compiled apart from training;
- `callbacks`: a log line per epoch, and DVCLive's metrics;
- `keras_archive`: the `.keras` file, byte-stable.
"""

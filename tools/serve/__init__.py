"""`mnist-serve`: the pushed versions over TF Serving's REST API, on LiteRT, without TensorFlow."""

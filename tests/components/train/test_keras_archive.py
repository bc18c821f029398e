import dataclasses
import zipfile

import keras
import numpy as np

from components.train import keras_archive, models
from tests.support.records import MNIST, default_params


def _model(seed: int) -> keras.Model:
    """The pipeline's model, compiled as train compiles it: its config then holds Python
    object ids, which differ between two builds of the same model."""
    keras.utils.set_random_seed(seed)
    params = dataclasses.replace(default_params().train, hidden_layer_size=8)
    return models.build_model(params, MNIST, steps_per_epoch=1)


def test_shared_object_ids_become_their_order_of_appearance():
    # Keras writes Python id()s, which differ between processes (the DVC runs of a stage).
    def config(first: int, second: int) -> dict:
        return {"a": {"shared_object_id": first}, "b": [{"shared_object_id": second}],
                "c": {"shared_object_id": first}}  # fmt: skip

    renumbered = keras_archive._renumber_shared_objects(config(140190912301136, 77), {})
    assert renumbered == keras_archive._renumber_shared_objects(config(5, 140190912309999), {})
    assert renumbered == config(1, 2)


def test_equal_weights_save_to_equal_bytes(tmp_path):
    first = _model(1)
    keras_archive.save_model(first, tmp_path / "a.keras")
    second = _model(1)
    keras_archive.save_model(second, tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    keras_archive.save_model(_model(2), tmp_path / "c.keras")
    assert (tmp_path / "c.keras").read_bytes() != (tmp_path / "a.keras").read_bytes()


def test_the_stable_file_loads_as_the_same_model(tmp_path):
    model = _model(1)
    keras_archive.save_model(model, tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    for saved, weights in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, weights)
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert b"date_saved" not in archive.read("metadata.json")

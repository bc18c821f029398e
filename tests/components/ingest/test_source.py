import socket

import pytest

from components.ingest import source
from pipeline import schema
from pipeline.errors import PipelineError
from pipeline.params import TFDS_DATASETS
from tests.support.records import MNIST


def test_offline_without_mirror_fails_after_one_short_probe_saying_how_to_set_one(monkeypatch):
    probes = []

    def unreachable(address, timeout):
        probes.append((address, timeout))
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(PipelineError, match=r"cannot reach mnist's server; set DATA_MIRROR") as e:
        source.builder("mnist", None)
    assert "Network is unreachable" in e.value.evidence
    # One connection attempt, bounded, where tfds's own download retries for minutes.
    assert len(probes) == 1 and probes[0][1] == source._PROBE_TIMEOUT_S <= 5


@pytest.mark.parametrize("dataset", TFDS_DATASETS)
def test_each_tfds_dataset_params_allow_infers_a_schema_of_its_own_class_names(dataset):
    import tensorflow_datasets as tfds

    found = tfds.builder(dataset)  # its features only: nothing is read
    inferred = source.inferred_schema(found)
    assert inferred.image_shape == (28, 28, 1) and inferred.framing == schema.DIGIT
    assert inferred.classes == tuple(found.info.features["label"].names)
    assert inferred.check() == inferred


def test_mnists_inferred_schema_is_the_one_the_tests_take_as_mnists(mirror_dir):
    assert source.inferred_schema(source.builder("mnist", mirror_dir)) == MNIST


def test_the_mirror_becomes_the_builders_download_address(mirror_dir):
    found = source.builder("mnist", mirror_dir)
    assert mirror_dir.as_uri() + "/" == found.URL

import socket

import pytest

from components.ingest import source
from pipeline.errors import PipelineError


def test_offline_without_mirror_fails_after_one_short_probe_saying_how_to_set_one(monkeypatch):
    probes = []

    def unreachable(address, timeout):
        probes.append((address, timeout))
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(PipelineError, match=r"cannot reach .* set DATA_MIRROR=") as error:
        source.builder("mnist", None)
    assert "train-images-idx3-ubyte.gz" in str(error.value)
    # One connection attempt, bounded, where tfds's own download retries for minutes.
    assert len(probes) == 1 and probes[0][1] == source._PROBE_TIMEOUT_S <= 5


def test_a_dataset_of_another_shape_is_refused_naming_both_shapes():
    with pytest.raises(
        PipelineError, match=r"cifar10 has images \(32, 32, 3\) .* needs \(28, 28, 1\)"
    ):
        source.builder("cifar10", None)


def test_the_mirror_becomes_the_builders_download_address(mirror_dir):
    found = source.builder("mnist", mirror_dir)
    assert mirror_dir.as_uri() + "/" == found.URL

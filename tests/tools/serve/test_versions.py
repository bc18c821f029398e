"""Live reload: versions pushed, broken or removed while the server runs."""

import logging
import shutil
import threading
import time
from pathlib import Path

import pytest

from components.evaluate import serving as layout
from pipeline import outputs
from tests.support.server import serving
from tools.serve.versions import Versions

BLANK = [[0] * 28] * 28


def _push(source: Path, base: Path, number: int) -> Path:
    """A version pushed as evaluate pushes one: copied under a hidden temp name, renamed."""
    temp = base / f".{number}{outputs.TMP_MARK}test"
    shutil.copytree(source, temp)
    return temp.rename(base / str(number))


def _broken(source: Path, base: Path, number: int) -> Path:
    temp = base / f".{number}{outputs.TMP_MARK}test"
    shutil.copytree(source, temp)
    (temp / layout.TFLITE_MODEL).write_bytes(b"not a flatbuffer")
    return temp.rename(base / str(number))


@pytest.fixture
def base(tmp_path, small_serving_dir):
    folder = tmp_path / "serving"
    folder.mkdir()
    _push(small_serving_dir / "1", folder, 1)
    return folder


def test_a_poll_serves_new_versions_skips_broken_ones_and_drops_removed_ones(
    base, small_serving_dir, caplog
):
    caplog.set_level(logging.INFO)
    versions = Versions(base)
    versions.poll()
    first = versions.served
    assert list(first.loaded) == [1]
    shutil.copytree(small_serving_dir / "1", base / f".2{outputs.TMP_MARK}half-written")
    versions.poll()
    assert versions.served is first  # a push under way is no version: nothing changed
    _push(small_serving_dir / "1", base, 2)
    _broken(small_serving_dir / "1", base, 3)
    versions.poll()
    assert versions.served.default().number == 2 and set(versions.served.loaded) == {1, 2}
    assert "cannot load the TFLite model" in versions.served.failed[3]
    (line,) = [r.getMessage() for r in caplog.records if "version 3" in r.getMessage()]
    assert line.startswith("version 3 not served: cannot load the TFLite model")
    versions.poll()  # the broken one is not tried (nor logged) again until its files change
    assert len([r for r in caplog.records if "version 3" in r.getMessage()]) == 1
    shutil.rmtree(base / "2")
    versions.poll()
    assert set(versions.served.loaded) == {1}


def test_a_push_serves_within_2_s_and_no_request_fails_meanwhile(base, small_serving_dir, tmp_path):
    with serving(base, tmp_path / "serve.log") as server:
        answers, stop = [], threading.Event()

        def client() -> None:
            while not stop.is_set():
                status, answer = server.post("/v1/models/mnist:predict", {"instances": [BLANK]})
                answers.append((status, answer))

        clients = [threading.Thread(target=client) for _ in range(2)]
        for thread in clients:
            thread.start()
        try:
            time.sleep(0.5)
            _push(small_serving_dir / "1", base, 2)
            pushed = time.monotonic()
            while server.get("/v1/models/mnist/metadata")[1]["model_spec"]["version"] != "2":
                assert time.monotonic() - pushed < 2, "version 2 did not serve within 2 s"
                time.sleep(0.02)
            _broken(small_serving_dir / "1", base, 3)
            time.sleep(1.5)  # three polls
        finally:
            stop.set()
            for thread in clients:
                thread.join()
        assert answers and all(status == 200 for status, _ in answers), answers[:3]
        assert server.get("/v1/models/mnist/metadata")[1]["model_spec"]["version"] == "2"
        assert server.get("/v1/models/mnist/versions/1")[0] == 200  # earlier ones stay
        status = server.get("/v1/models/mnist")[1]["model_version_status"]
        assert [s["version"] for s in status] == ["3", "2", "1"]
        assert status[0]["state"] == "END" and "TFLite" in status[0]["status"]["error_message"]
        assert server.get("/v1/models/mnist/versions/3")[1] == {"model_version_status": status[:1]}
        assert server.post("/v1/models/mnist/versions/3:predict", {"instances": [BLANK]})[0] == 404
        log = server.log.read_text()
        assert log.count("version 3 not served: cannot load the TFLite model") == 1, log
        assert "version 2 serves" in log


def test_a_version_whose_files_fail_in_any_way_fails_alone(base, small_serving_dir, caplog):
    version = _push(small_serving_dir / "1", base, 2)
    (version / layout.SCHEMA).write_text('{"height": "not a schema"}')
    versions = Versions(base)
    versions.poll()
    assert set(versions.served.loaded) == {1} and set(versions.served.failed) == {2}
    assert "version 2 not served: " in caplog.text
    shutil.copy(small_serving_dir / "1" / layout.SCHEMA, version / layout.SCHEMA)
    versions.poll()  # its files changed: tried again
    assert set(versions.served.loaded) == {1, 2} and not versions.served.failed

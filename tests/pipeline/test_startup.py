import os
import sys

import pytest

from pipeline import startup

NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1.0 1 port.cc:153] oneDNN custom operations are on. You may see ...\n"
)


def test_start_up_noise_is_held_back_and_the_rest_kept(capfd):
    with startup.quiet_native_startup():
        os.write(2, (NOISE + "a line that matters\n").encode())  # as C++ code writes it
        print("from Python", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a line that matters" in err and "from Python" in err
    assert "oneDNN" not in err and "absl::InitializeLog" not in err


def test_a_failed_import_shows_everything(capfd):
    with pytest.raises(ImportError), startup.quiet_native_startup():
        os.write(2, NOISE.encode())
        raise ImportError("libsomething.so: cannot open shared object file")
    assert "oneDNN custom operations" in capfd.readouterr().err

import asyncio
import socket
import subprocess
import sys

from tests.support import ROOT
from tools.serve import cli


def test_a_missing_base_folder_is_one_line_with_the_fix(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tools.serve.cli", "--model_base_path", str(tmp_path / "none")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.endswith("/none: no such folder; `dvc repro` pushes one")
    assert len(line) <= 120


def test_a_port_in_use_is_one_line(small_serving_dir, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = cli.main(
            ["--model_base_path", str(small_serving_dir), "--rest_api_port", str(port)]
        )
    assert status == 1
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in caplog.text


def test_a_model_name_that_cannot_be_in_a_url_is_refused(small_serving_dir, caplog):
    assert cli.main(["--model_base_path", str(small_serving_dir), "--model_name", "a/b"]) == 1
    assert "--model_name 'a/b': a name without '/' or ':'" in caplog.text


def test_connections_are_accepted_without_nagles_delay():
    """Without TCP_NODELAY a response's body waits for the client's delayed ACK of its
    headers; asyncio sets it only on the connections of a socket that says it is TCP."""
    listening = cli._listening("127.0.0.1", 0)
    accepted = []

    class Accepting(asyncio.Protocol):
        def connection_made(self, transport):
            sock = transport.get_extra_info("socket")
            accepted.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def connect_once() -> None:
        server = await asyncio.get_running_loop().create_server(Accepting, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            while not accepted:
                await asyncio.sleep(0.01)
            writer.close()
            await writer.wait_closed()
        assert accepted[0], "TCP_NODELAY is not set on an accepted connection"

    with listening:
        asyncio.run(connect_once())


def test_a_timeout_that_is_no_time_is_refused(small_serving_dir, caplog):
    argv = ["--model_base_path", str(small_serving_dir), "--rest_api_timeout_in_ms", "0"]
    assert cli.main(argv) == 1
    assert "--rest_api_timeout_in_ms 0: a number of milliseconds over 0" in caplog.text

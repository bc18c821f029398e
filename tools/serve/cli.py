"""`mnist-serve`: serve the pushed versions over TF Serving's REST API, live.

Serves every version under --model_base_path (TF Serving's layout, as evaluate and
mnist-push write it) as model --model_name, speaking TF Serving's REST API (tools.serve.app)
on --host:--rest_api_port, with TF Serving's flag names, so a client written for TF
Serving works unchanged. Each version answers from its TFLite model on LiteRT
(components.evaluate.loader): TensorFlow is never imported. A version pushed while it runs serves
within 2 s; earlier ones stay addressable (tools.serve.versions). Stop it with Ctrl-C.

    mnist-serve [--rest_api_port 8501] [--model_name mnist] [--model_base_path models/serving]
                [--rest_api_timeout_in_ms 30000]
"""

from __future__ import annotations

import argparse
import functools
import logging
import socket
from pathlib import Path

from pipeline import artifacts, boundary, workspace
from pipeline.errors import PipelineError, shown_path
from tools.serve import predict
from tools.serve.app import make_app
from tools.serve.versions import Versions

logger = logging.getLogger(__package__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnist-serve", description=__doc__.splitlines()[0])
    parser.add_argument("--rest_api_port", type=int, default=8501, help="default: 8501")
    parser.add_argument("--model_name", default="mnist", help="in the URLs (default: mnist)")
    parser.add_argument(
        "--model_base_path",
        default=artifacts.paths["serving"],
        help=f"the folder of numbered versions (default: {artifacts.paths['serving']}, in the "
        "project)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--rest_api_timeout_in_ms",
        type=int,
        default=predict.TIMEOUT_MS,
        help="a request's headers, then its body, must arrive within it; a slower client is "
        f"dropped (default: {predict.TIMEOUT_MS})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return boundary.guarded(lambda: _serve(args), "mnist-serve", said_by=logger, interrupted=None)


def _listening(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, or a line that says why not."""
    if not 0 <= port <= 65535:
        raise PipelineError(f"--rest_api_port {port} is not a port (0 to 65535)")
    listening = None
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        # As TCP by name: asyncio sets TCP_NODELAY only on sockets of that protocol, and
        # without it a response's body waits for the client's delayed ACK of its headers.
        listening = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(2048)  # connections wait in its backlog until uvicorn accepts them
    except OSError as error:
        if listening is not None:
            listening.close()
        raise PipelineError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); --rest_api_port or "
            "--host to pick another"
        ) from None
    return listening


def _serve(args: argparse.Namespace) -> None:
    import uvicorn  # only serving pays for it

    from tools.serve.deadline import HeaderDeadline

    name = args.model_name
    if not name or any(char in name for char in "/:") or not name.isprintable():
        raise PipelineError(f"--model_name {name!r}: a name without '/' or ':'")
    if args.rest_api_timeout_in_ms <= 0:
        raise PipelineError(
            f"--rest_api_timeout_in_ms {args.rest_api_timeout_in_ms}: a number of milliseconds "
            "over 0"
        )
    timeout_s = args.rest_api_timeout_in_ms / 1000
    base = workspace.workspace_path(args.model_base_path)
    if not base.is_dir():
        raise PipelineError(
            f"--model_base_path {shown_path(base, 40)}: no such folder; `dvc repro` pushes one"
        )
    listening = _listening(args.host, args.rest_api_port)
    versions = Versions(Path(base))
    versions.poll()
    if not versions.served.loaded:
        logger.warning("no version in %s serves yet: waiting for one", shown_path(base))
    versions.watch()
    host, port = listening.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    logger.info("serving %s at http://%s:%d/v1/models/%s", shown_path(base), shown_host, port, name)
    config = uvicorn.Config(
        make_app(name, versions, timeout_s),
        http=functools.partial(HeaderDeadline, seconds=timeout_s),
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    try:
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        versions.stop()


def console() -> None:
    """The `mnist-serve` script: the process entry point, where process-wide settings go."""
    boundary.console(main)


if __name__ == "__main__":
    console()

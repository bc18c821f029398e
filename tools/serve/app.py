"""TF Serving's REST API as a Starlette application, over the served versions.

    GET  /v1/models/<name>[/versions/<v>]             version status
    GET  /v1/models/<name>[/versions/<v>]/metadata    the signature defs (and the schema)
    POST /v1/models/<name>[/versions/<v>]:predict     rows (`instances`) or columns (`inputs`)
    GET  /                                            the page to draw a digit on (tools.serve.page)

Answers and errors are TF Serving's JSON: `{"error": "..."}` with 400 for a bad request, 404
for an unknown model or version, 413 for a body over predict.MAX_BODY_BYTES, 408 (and the
connection closed) for a body not all in within the timeout (its headers' own deadline is
tools.serve.deadline's). The metadata
adds one entry TF Serving has not, `schema`: the version's schema (image shape, class
names), so a client can name the classes it gets; a predict answer adds a header,
X-Model-Version, the version that answered; and predict takes `?prepare=photo`, which
prepares PNG files as mnist-predict prepares photos (the page sends it). The event loop
only moves bytes: requests' JSON is parsed in a thread of its own, one request at a time,
and answered in a pool's threads, where each version's one interpreter answers one call at
a time. Memory is bounded whatever clients send: the bodies held at once (BODY_BUDGET_BYTES),
one request's parse, counted before it starts (predict.parsed_body).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from components.evaluate.loader import Version
from components.evaluate.version_names import INT64_MAX
from pipeline.errors import PipelineError
from tools.serve import page, predict
from tools.serve.versions import Served, Versions

logger = logging.getLogger(__package__)

VERSION_HEADER = "X-Model-Version"  # on a predict answer: TF Serving's JSON has no version
BODY_BUDGET_BYTES = 4 * predict.MAX_BODY_BYTES  # request bodies held at once

_PATH = re.compile(
    r"(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?(?P<verb>/metadata|:predict)?"
)


class _Failure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(content: Any, status: int = 200) -> Response:
    body = json.dumps(content, indent=1, allow_nan=False) + "\n"
    closing = {"Connection": "close"} if status == 408 else None  # the body is left unread
    return Response(body, status, headers=closing, media_type="application/json")


def _status(number: int, error: str | None = None) -> dict[str, Any]:
    return {
        "version": str(number),
        "state": "AVAILABLE" if error is None else "END",
        "status": {
            "error_code": "OK" if error is None else "UNKNOWN",
            "error_message": error or "",
        },
    }


def _number(version: str) -> int:
    """A version number as a URL gives it: ASCII digits within int64."""
    digits = version.lstrip("0") or "0"
    if not (version.isascii() and version.isdigit()) or len(digits) > 19 or int(digits) > INT64_MAX:
        raise _Failure(400, f"Malformed request: version {version[:40]!r} is not a number")
    return int(digits)


class Api:
    """The REST API of model `name`, serving `versions`; a request's body must arrive within
    `timeout_s` of its headers."""

    def __init__(self, name: str, versions: Versions, timeout_s: float) -> None:
        self.name, self.versions, self.timeout_s = name, versions, timeout_s
        # Requests' JSON is parsed in one thread, one at a time: parsing holds the GIL, so a
        # second parser would add its memory and no speed, and in one thread its memory is
        # reused (glibc keeps what each thread frees for that thread: 16 large requests parsed
        # in 16 threads held 3.3 GB). Inference runs in Starlette's thread pool.
        self._parser = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="parse")
        self._bodies = _Budget(BODY_BUDGET_BYTES)

    def _version(self, served: Served, name: str, version: str | None) -> Version:
        if name != self.name:
            raise _Failure(404, f"Servable not found for request: Latest({name[:100]})")
        if version is None:
            if (found := served.default()) is None:
                raise _Failure(404, f"Servable not found for request: Latest({name})")
            return found
        number = _number(version)
        if (found := served.loaded.get(number)) is None:
            raise _Failure(404, f"Servable not found for request: Specific({name}, {number})")
        return found

    def status(self, served: Served, name: str, version: str | None) -> dict[str, Any]:
        if version is not None:
            number = _number(version)
            if name == self.name and (why := served.failed.get(number)) is not None:
                return {"model_version_status": [_status(number, why)]}  # seen, not loaded
            return {"model_version_status": [_status(self._version(served, name, version).number)]}
        if name != self.name or not (served.loaded or served.failed):
            raise _Failure(404, f"Could not find any versions of model {name[:100]}")
        every = sorted({*served.loaded, *served.failed}, reverse=True)
        return {"model_version_status": [_status(n, served.failed.get(n)) for n in every]}

    def metadata(self, served: Served, name: str, version: str | None) -> dict[str, Any]:
        found = self._version(served, name, version)
        return {
            "model_spec": {"name": self.name, "signature_name": "", "version": str(found.number)},
            "metadata": {
                "signature_def": {"signature_def": found.signature_defs},
                "schema": found.schema.to_json(),
            },
        }

    def _images(
        self, served: Served, name: str, version: str | None, body: bytes, prepare: bool
    ) -> tuple[Version, np.ndarray, bool]:
        """The version that answers, the request's images, and whether it is columnar."""
        found = self._version(served, name, version)
        request = predict.parsed_body(body, found.schema)
        signature, columnar, value = predict.signature_and_input(request)
        images = predict.input_images(signature, columnar, value, found.schema, prepare)
        return found, images, columnar

    @staticmethod
    def _answer(found: Version, images: np.ndarray, columnar: bool) -> dict[str, Any]:
        return predict.response(found.answer(images), columnar)

    async def route(self, request: Request) -> Response:
        served = self.versions.served  # one set for the whole request, however versions change
        match = _PATH.fullmatch(request.path_params["rest"])
        try:
            if match is None:
                raise _Failure(400, "Malformed request: " + request.url.path[:100])
            name, version, verb = match["name"], match["version"], match["verb"]
            if verb == ":predict":
                if request.method != "POST":
                    raise _Failure(400, "Malformed request: predict is POST")
                prepare = _prepare(request)
                async with self._bodies.held(_declared(request), self.timeout_s):
                    body = await _bounded_body(request, self.timeout_s)
                    found, images, columnar = await asyncio.get_running_loop().run_in_executor(
                        self._parser, self._images, served, name, version, body, prepare
                    )
                answer = await run_in_threadpool(self._answer, found, images, columnar)
                response = _json(answer)
                response.headers[VERSION_HEADER] = str(found.number)
                return response
            if request.method != "GET":
                raise _Failure(400, f"Malformed request: {request.method} {request.url.path[:100]}")
            if verb == "/metadata":
                return _json(self.metadata(served, name, version))
            return _json(self.status(served, name, version))
        except _Failure as failure:
            return _json({"error": str(failure)}, failure.status)
        except predict.BadRequest as error:
            return _json({"error": str(error)}, 400)
        except PipelineError as error:  # a version that gives no probabilities
            logger.warning("%s", error)
            return _json({"error": str(error)}, 500)


def _prepare(request: Request) -> bool:
    """Whether the request asks PNG files prepared as photos: `?prepare=photo`."""
    prepare = request.query_params.get("prepare")
    if prepare not in (None, "photo"):
        raise _Failure(400, f"Malformed request: prepare={prepare[:40]!r}; the one kind is photo")
    return prepare == "photo"


class _Budget:
    """Bytes of request bodies held at once: a body waits for room (its declared length, or
    the most a body may be) until the request's deadline, then is answered 503. So many
    clients sending large bodies at once hold at most this much, not each their own."""

    def __init__(self, total: int) -> None:
        self.free = total
        self._changed: asyncio.Condition | None = None  # made in the server's event loop

    @contextlib.asynccontextmanager
    async def held(self, size: int, timeout_s: float) -> AsyncIterator[None]:
        self._changed = self._changed or asyncio.Condition()
        async with self._changed:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._changed.wait_for(lambda: self.free >= size)
            except TimeoutError:
                said = f"the server is busy with other requests' bodies: retry in {timeout_s:g} s"
                raise _Failure(503, said) from None
            self.free -= size
        try:
            yield
        finally:
            async with self._changed:
                self.free += size
                self._changed.notify_all()


def _declared(request: Request) -> int:
    """The body's length as its headers declare it, or the most a body may be (chunked, or
    declared over it: refused unread by _bounded_body, which holds none of it)."""
    declared = request.headers.get("content-length", "")
    limit = predict.MAX_BODY_BYTES
    if declared.isdigit() and len(declared) <= 12 and int(declared) <= limit:
        return int(declared)
    return 0 if declared.isdigit() else limit


async def _bounded_body(request: Request, timeout_s: float) -> bytes:
    """The request's body, refused past predict.MAX_BODY_BYTES without reading the rest, or
    when it is not all in within `timeout_s` (a client that stalls holds nothing for long)."""
    limit = predict.MAX_BODY_BYTES
    refusal = _Failure(
        413, f"the request body is over {limit >> 20} MiB: send fewer images at a time"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 12 or int(declared) > limit):  # no 5000-digit int
        raise refusal
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise refusal
                chunks.append(chunk)
    except TimeoutError:
        said = f"the request body did not arrive within {timeout_s:g} s: send it without pausing"
        raise _Failure(408, said) from None
    return b"".join(chunks)


async def _http_error(request: Request, error: Exception) -> Response:
    """Starlette's own refusals (no such path, a method a path does not take), in JSON."""
    code = error.status_code if isinstance(error, HTTPException) else 400
    return _json({"error": f"Malformed request: {request.method} {request.url.path[:100]}"}, code)


async def _internal_error(request: Request, error: Exception) -> Response:
    """A fault of the server's own: its traceback logged, the client told in one line."""
    logger.error("%s %s failed", request.method, request.url.path[:100], exc_info=error)
    return _json({"error": f"internal error: {type(error).__name__}"}, 500)


def make_app(
    name: str, versions: Versions, timeout_s: float = predict.TIMEOUT_MS / 1000
) -> Starlette:
    """The ASGI application serving model `name` from `versions`; a request body not all in
    within `timeout_s` of its headers is answered 408."""
    api = Api(name, versions, timeout_s)
    routes = [
        Route("/v1/models/{rest:path}", api.route, methods=["GET", "POST"]),
        *page.routes(name),
    ]
    handlers = {HTTPException: _http_error, Exception: _internal_error}
    return Starlette(routes=routes, exception_handlers=handlers)

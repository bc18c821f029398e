"""A deadline for a client's request headers: a slow client is dropped, never waited on.

uvicorn closes a kept-alive connection idle for `timeout_keep_alive`, and bounds the size of
a request's headers (h11's), but not the time they take: a client that opens a connection
and sends nothing, or trickles its headers a byte at a time (slowloris), holds its
connection for ever, and enough of them exhaust the server's file descriptors. This is
uvicorn's own h11 protocol with one timer more: from a connection's opening, and again from
each answer's end, the next request's headers must arrive within `seconds`; a connection
still waiting for them then is closed (no answer: there is no request to answer). Once a
request is in, its body has its own deadline, in the application (tools.serve.app), which
answers 408. The timer uses uvicorn's protocol internals (docs/upgrading.md, "uvicorn's
h11 protocol"); tests/tools/serve/test_app.py holds both deadlines on a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers are not all in
    within `seconds` of its opening or of the previous answer's end."""

    def __init__(self, *args: Any, seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seconds = seconds
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.seconds, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        answering = self.cycle is not None and not self.cycle.response_complete
        if not answering and not self.transport.is_closing():
            with contextlib.suppress(h11.LocalProtocolError):
                self.conn.send(h11.ConnectionClosed())
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

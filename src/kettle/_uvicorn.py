"""uvicorn's httptools protocol with the request-head timeout uvicorn does not have.

uvicorn arms no timer while a request's headers arrive: its keep-alive timer runs only
between requests and any byte cancels it. A client sending one header byte every few
seconds (slowloris) therefore holds its connection forever, and enough of them fill
``--limit-concurrency`` so that every other client gets 503s. ``kettle run`` serves with
this protocol instead: a connection must deliver a whole request head within
``KETTLE_HEADER_TIMEOUT`` seconds (default 10) of connecting or of the request's first byte,
or it is closed without an answer, as granian and nginx do.

One sweep per second closes the late connections, so a request costs two dict operations
and a clock read rather than a timer of its own.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HeadTimeoutProtocol"]

#: Seconds a client has to send a request head (the env var is how ``kettle run`` passes it
#: on to worker processes, which import this module themselves).
HEAD_TIMEOUT = float(os.environ.get("KETTLE_HEADER_TIMEOUT", "10"))
_SWEEP_EVERY = 1.0
_CLOSE_BATCH = 32


class HeadTimeoutProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that closes connections whose request head is late."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the head clock at connect: the first request may not dawdle either."""
        super().connection_made(transport)
        _waiting[self] = self.loop.time() + HEAD_TIMEOUT
        _ensure_sweeping(self.loop)

    def on_message_begin(self) -> None:
        """Start the head clock at a request's first byte (keep-alive reuse)."""
        super().on_message_begin()
        # PERF: a dict entry per request; one timer per second for all of them.
        _waiting[self] = self.loop.time() + HEAD_TIMEOUT
        _ensure_sweeping(self.loop)

    def on_headers_complete(self) -> None:
        """The head is in: the clock stops (the body has kettle's BODY_TIMEOUT)."""
        _waiting.pop(self, None)
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection."""
        _waiting.pop(self, None)
        super().connection_lost(exc)


#: Connections whose request head is still arriving, with their deadlines (per process).
_waiting: dict[HeadTimeoutProtocol, float] = {}
_sweeper: list[Any] = [None]  # the scheduled TimerHandle, or None when idle


def _ensure_sweeping(loop: asyncio.AbstractEventLoop) -> None:
    if _sweeper[0] is None:
        _sweeper[0] = loop.call_later(_SWEEP_EVERY, _sweep, loop)


def _sweep(loop: asyncio.AbstractEventLoop) -> None:
    now = loop.time()
    late = [conn for conn, deadline in _waiting.items() if deadline <= now]
    for conn in late:
        del _waiting[conn]
    _close_some(late, 0)
    _sweeper[0] = loop.call_later(_SWEEP_EVERY, _sweep, loop) if _waiting else None


def _close_some(conns: list[HeadTimeoutProtocol], start: int) -> None:
    # Slow clients that connected together time out together: closing a thousand in one
    # callback would stall every other request for tens of milliseconds, so close them a
    # batch at a time and let the loop serve in between.
    for conn in conns[start : start + _CLOSE_BATCH]:
        transport = conn.transport
        if transport is not None and not transport.is_closing():
            transport.close()
    if start + _CLOSE_BATCH < len(conns):
        conns[0].loop.call_soon(_close_some, conns, start + _CLOSE_BATCH)

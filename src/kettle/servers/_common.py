"""What the ASGI and RSGI adapters share, outside their per-request hot paths.

The hot paths themselves (``ASGIApp.__call__``, ``RSGIApp.__rsgi__``) stay flat and are
written once per protocol: a helper called on every request would cost a frame each
time. What is here runs only when something is off (a refused request head), once per
streamed response (the pump and its disconnect watch), or once per server (lifespan).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..exceptions import BadRequest, HTTPError, RequestHeaderFieldsTooLarge
from ..responses import JSONResponse

if TYPE_CHECKING:
    from ..app import Kettle

__all__ = [
    "DRESSED",
    "JSON_TYPE",
    "TEST_CLIENT",
    "close_stream",
    "head_refusal",
    "pump",
    "start_app",
    "stop_app",
]

logger = logging.getLogger("kettle.server")
#: The content-type pair of a JSON answer (the returned-dict fast path).
JSON_TYPE = JSONResponse._content_type_pair
#: Where a router's or route's own SecurityHeaders marks the response it dressed.
DRESSED = "kettle.security_headers"
#: The lifespan-scope extension kettle's test clients declare: the app's heap is not
#: frozen under them (see :func:`start_app`).
TEST_CLIENT = "kettle.test_client"


def head_refusal(
    app: Kettle, count: int, size: int, hosts: int, host: bytes | None
) -> HTTPError | None:
    """Why a request head is refused, or ``None``; the adapters call this only when their
    inline check saw something to look at (a new host, too much, two Hosts).

    ``count`` header lines of ``size`` bytes in all (``size`` is not looked at when
    ``count`` is already over the limit), ``hosts`` Host lines, the last being ``host``.
    """
    if count > app._max_headers:
        return RequestHeaderFieldsTooLarge(f"more than {app._max_headers} headers")
    if size > app._max_head:
        return RequestHeaderFieldsTooLarge(f"the request headers are over {app._max_head} bytes")
    if hosts > 1:
        # Two Hosts: servers and proxies may disagree on which one counts (RFC 9112).
        return BadRequest("more than one Host header")
    if host is not None and host not in app._known_hosts:
        reason = app._hosts.refusal(host)
        if reason is not None:
            return BadRequest(reason)
    return None


async def close_stream(stream: AsyncIterator[bytes]) -> None:
    """Close a response stream (a generator's ``finally`` runs, a file is closed)."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


async def pump(
    stream: AsyncIterator[bytes],
    write: Callable[[bytes], Awaitable[Any]],
    disconnected: Callable[[], Awaitable[Any]],
    closed: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> bool:
    """Write ``stream``'s chunks with ``write`` while watching ``disconnected()``.

    Returns whether the stream ran to its end (``False``: the client went away first, or
    ``write`` raised one of ``closed``, the server's way of saying the same). The stream
    is closed either way; an exception from the stream itself is raised again.
    """

    async def run() -> None:
        async for chunk in stream:
            if chunk:
                await write(chunk)

    async def watch() -> None:
        # A coroutine of our own, so the watch is a real Task: granian's awaitables look
        # like futures to ensure_future, but not enough for gather to cancel them.
        await disconnected()

    # Servers drop writes to a closed connection silently (ASGI) or only notice it at the
    # next write (RSGI), so an endless or idle stream (a ticker, server-sent events) would
    # run on: watch for the disconnect beside it.
    pumping = asyncio.ensure_future(run())
    watching = asyncio.ensure_future(watch())
    try:
        await asyncio.wait((pumping, watching), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumping, watching):
            task.cancel()
        await asyncio.gather(pumping, watching, return_exceptions=True)
        await close_stream(stream)
    if pumping.cancelled():
        return False
    error = pumping.exception()
    if error is None:
        return True
    if isinstance(error, closed):
        return False
    raise error


async def start_app(app: Kettle, *, freeze: bool = True) -> str | None:
    """Run ``app.startup`` for a server; ``None``, or what went wrong (logged).

    Once startup has succeeded, and unless ``freeze`` is false (the test clients) or
    ``GC_FREEZE`` is off, collect once and move every object alive into the collector's
    permanent generation. What is alive then (routes, compiled templates, pools, imported
    modules) lives as long as the worker, yet a full collection walks it all: with 1,000
    requests in flight their objects reach the old generations, full collections run
    often, and the walk over an app's heap cost more than the requests did (io-wait on
    uvicorn: 12.1 k req/s before, 14.5 k after; docs/performance.md). Frozen objects are
    never collected, so garbage is collected first. The test clients start many apps in
    one process: each would be kept alive and each start would walk the whole heap.
    """
    failure = await _lifespan_step(app.startup, "startup")
    if failure is None and freeze and app.config["GC_FREEZE"]:
        gc.collect()
        gc.freeze()
        app._heap_frozen = True
    return failure


async def stop_app(app: Kettle) -> str | None:
    """Run ``app.shutdown`` for a server; ``None``, or what went wrong (logged).

    First give the collector back what :func:`start_app` froze, so a process that goes on
    after the app (an embedded server) can free it.
    """
    if app._heap_frozen:
        app._heap_frozen = False
        gc.unfreeze()
    return await _lifespan_step(app.shutdown, "shutdown")


async def _lifespan_step(step: Callable[[], Awaitable[None]], name: str) -> str | None:
    try:
        await step()
    except BaseException as exc:
        logger.exception("%s failed", name)
        return f"{type(exc).__name__}: {exc}"
    return None

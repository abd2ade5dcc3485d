"""The floor under kettle's ASGI figures: only what kettle's API itself makes every request do.

Per request it builds kettle's ``Request`` for the handler, awaits the handler's coroutine,
builds the ``TextResponse`` the handler returns (plaintext, io-wait) or encodes the dict it
returns with msgspec (json, as kettle's own fast path does), makes the Host and head-size
checks SECURITY.md asks for in one pass, and adds the security headers as one prebuilt
block: kettle's exact bytes. Nothing else: one dict lookup for routing, no error handling,
no sessions, no proxies; the middleware path is ten no-op layers with nothing between
them. So, on the same server in the same run,

- this app over the raw ceiling is what the API costs (a request object, a handler, a
  response object), whatever framework provides it, and
- kettle over this app is what the rest of kettle's machinery costs.

Not a framework: it answers the plaintext, json, middleware and io-wait paths and 404
otherwise.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.peers import _common as c
from kettle import JSONResponse, Kettle, Request, TextResponse
from kettle.json import encode_json
from kettle.responses import _json_answer
from kettle.servers.asgi import ASGIRequest

_API = c.raw(c.KETTLE_API)
_JSON_TYPE = (b"content-type", b"application/json")
#: kettle's defaults (MAX_HEADERS, MAX_HEADER_SIZE).
_MAX_HEADERS = 100
_MAX_HEAD = 16 * 1024
# The requests' ``app``; it serves nothing itself.
_owner = Kettle(__name__)
_known_hosts: set[bytes] = set()


async def plaintext(req: Request) -> TextResponse:
    return TextResponse(c.MESSAGE)


async def json(req: Request) -> dict[str, str]:
    return {"message": c.MESSAGE}


async def io_wait(req: Request) -> TextResponse:
    await asyncio.sleep(c.IO_WAIT)
    return TextResponse(c.MESSAGE)


async def _noop(req: Request, call_next: Any) -> Any:
    return await call_next(req)


async def _json_leaf(req: Request) -> JSONResponse:
    # Behind middleware the API gives call_next's caller a Response, so the dict becomes
    # one, built the fastest way kettle knows.
    return _json_answer(await json(req))


def _link(layer: Any, call_next: Any) -> Any:
    def link(req: Request) -> Any:
        return layer(req, call_next)

    return link


def _layered(depth: int) -> Any:
    """The middleware scenario's floor: ``depth`` no-op layers, each handed the next as a
    plain function returning its coroutine. No error guards: an exception in a layer would
    pass through the layers around it (kettle turns it into a response its outer layers
    see, at the price of a coroutine frame per layer)."""
    chain: Any = _json_leaf
    for _ in range(depth):
        chain = _link(_noop, chain)
    return chain


_HANDLERS: dict[str, Any] = {
    "/plaintext": plaintext,
    "/json": json,
    "/io": io_wait,
    "/mw/json": _layered(c.MIDDLEWARE_DEPTH),
}


async def _lifespan(receive: Any, send: Any) -> None:
    while (await receive())["type"] == "lifespan.startup":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


async def _refuse(send: Any, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve one request with the floor's work (see the module docstring)."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        return
    req = ASGIRequest(scope, receive, _owner)
    headers = scope["headers"]
    # The adapter's own one-pass check (asgi.py), written out the same way on purpose:
    # the floor must pay for it exactly as kettle does.
    host = None
    hosts = size = 0
    for name, value in headers:
        size += len(name) + len(value)
        if name == b"host":
            host = value
            hosts += 1
    if len(headers) > _MAX_HEADERS or size > _MAX_HEAD or hosts > 1:
        return await _refuse(send, 431)
    if host is not None and host not in _known_hosts:
        _known_hosts.add(host)
    handler = _HANDLERS.get(scope["path"])
    if handler is None:
        return await _refuse(send, 404)
    result = await handler(req)
    if result.__class__ is dict:
        body = encode_json(result)
        raw = [_JSON_TYPE, (b"content-length", str(len(body)).encode())]
    else:
        raw, body = result.raw_headers, result.body
    raw += _API
    await send({"type": "http.response.start", "status": 200, "headers": raw})
    await send({"type": "http.response.body", "body": body})

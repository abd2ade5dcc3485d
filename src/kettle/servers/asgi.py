"""The ASGI 3 adapter: HTTP and lifespan scopes, kept apart from the sans-IO core.

``Kettle`` inherits :class:`ASGIApp`, so the app object itself is the ASGI callable and a
request costs no extra wrapper frame. Per request: build an :class:`ASGIRequest` (a lazy
view over the scope), let the app match it to an endpoint, await the endpoint's chain, and
write the response as two messages (or a stream of them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .._current import serves_requests
from ..exceptions import ClientDisconnect, HTTPError
from ..json import encode_json
from ..requests import Request
from ..responses import _LENGTH_PAIRS, Response, coerce_response
from ._common import (
    DRESSED,
    JSON_TYPE,
    TEST_CLIENT,
    close_stream,
    head_refusal,
    pump,
    start_app,
    stop_app,
)

if TYPE_CHECKING:
    from .._compiler import Endpoint
    from ..app import Kettle

__all__ = ["ASGIApp", "ASGIRequest"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGIRequest(Request):
    """A :class:`Request` whose body comes from ASGI ``http.request`` messages."""

    __slots__ = ()

    async def _chunks(self, deadline: list[float] | None) -> AsyncIterator[bytes]:
        receive = self._receive
        while True:
            if deadline is None:
                message = await receive()
            else:
                async with asyncio.timeout_at(deadline[0]):
                    message = await receive()
            kind = message["type"]
            if kind == "http.request":
                body = message.get("body", b"")
                if body:
                    yield body
                if not message.get("more_body", False):
                    return
            elif kind == "http.disconnect":
                raise ClientDisconnect("the client disconnected while sending the body")


def _strip_root(scope: Scope) -> Scope:
    # Servers put root_path inside path (ASGI spec); kettle routes on the rest.
    root = scope["root_path"].rstrip("/")
    path = scope["path"]
    if root and (path == root or path.startswith(root + "/")):
        return {**scope, "path": path[len(root) :] or "/", "root_path": root}
    return scope


async def _send_stream(
    response: Response, stream: AsyncIterator[bytes], send: Send, receive: Receive, head: bool
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    if head:
        await close_stream(stream)
        await send({"type": "http.response.body", "body": b""})
        return

    async def write(chunk: bytes) -> None:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def wait_for_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    if await pump(stream, write, wait_for_disconnect):
        await send({"type": "http.response.body", "body": b""})


class ASGIApp:
    """The ASGI 3 entry point mixed into :class:`~kettle.Kettle`."""

    # PERF: one flat function on purpose; every helper split out costs a frame per request.
    async def __call__(self: Kettle, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[misc]  # noqa: C901
        """Serve one ASGI connection scope."""
        if scope["type"] != "http":
            return await _other_scope(self, scope, receive, send)
        if not self._finalized:
            self.finalize()
        if scope.get("root_path"):
            scope = _strip_root(scope)
        if self._proxies is not None:
            scope = self._proxies.apply(scope)
        req = ASGIRequest(scope, receive, self)  # type: ignore[arg-type]
        refusal: HTTPError | None = None
        headers = scope["headers"]
        count = len(headers)
        if count > self._max_headers:
            refusal = head_refusal(self, count, 0, 0, None)
        else:
            # PERF: one pass over the request's few headers finds the Host and sizes the
            # head (uvicorn's httptools parser sets no limit of its own); the Host check is
            # then a dict hit for the few hosts a site sees, the regex once per new host.
            host = None
            hosts = size = 0
            for name, value in headers:
                size += len(name) + len(value)
                if name == b"host":
                    host = value
                    hosts += 1
            if (
                size > self._max_head
                or hosts > 1
                or (host is not None and host not in self._known_hosts)
            ):
                refusal = head_refusal(self, count, size, hosts, host)
        # PERF: the static-path hit of Kettle.match, inlined; everything else goes there.
        entry = self._static.get(scope["path"])
        endpoint = entry.methods.get(scope["method"]) if entry is not None else None
        if refusal is not None:
            # Before routing: the app's own handlers answer a bad host, whatever the path.
            endpoint = self._root_fallback
        elif endpoint is not None:
            req.route = endpoint.route
        else:
            endpoint = self.match(req)
        if endpoint.mount is not None:
            return await _to_mounted(endpoint, scope, receive, send)
        try:
            # PERF: coercion and error handling live here rather than in a wrapper coroutine
            # around every chain: a route without middleware awaits its handler directly.
            try:
                if refusal is not None:
                    raise refusal
                result = await endpoint.chain(req)
                if result.__class__ is dict and req._session is None:
                    # PERF: the commonest API answer skips building a Response object; the
                    # bytes on the wire are exactly what JSONResponse would send.
                    body = encode_json(result)
                    response = None
                else:
                    response = result if isinstance(result, Response) else coerce_response(result)
            except Exception as exc:
                response = await endpoint.errors.handle(req, exc)
            if response is None:
                size = len(body)
                length = (
                    _LENGTH_PAIRS[size] if size < 4096 else (b"content-length", str(size).encode())
                )
                headers = [JSON_TYPE, length]
                if self._api_headers is not None:
                    headers += self._api_headers[scope.get("scheme") == "https"]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"" if scope["method"] == "HEAD" else body,
                    }
                )
                return None
            if req._session is not None:
                await self.extensions["sessions"].save(req, response)
            if response._secure_cookies is not None:
                response.prepare(scope.get("scheme") == "https")
            security = self._security_headers
            if security is not None and scope.get(DRESSED) is not response:
                raw = response.raw_headers
                # PERF: dress's own first step, inlined for a response with a known
                # content type and its length only (most): the call costs ~2 k instructions.
                blocks = security.blocks_by_type.get(raw[0]) if len(raw) == 2 else None
                if blocks is not None and raw[1][0] == b"content-length":
                    raw += blocks[scope.get("scheme") == "https"]
                else:
                    security.dress(raw, scope.get("scheme") == "https")
            stream = response.stream
            if stream is None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": response.raw_headers,
                    }
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"" if scope["method"] == "HEAD" else response.body,
                    }
                )
            else:
                await _send_stream(response, stream, send, receive, scope["method"] == "HEAD")
        finally:
            if req._form is not None:
                await req.close()
        return None


# While a request is served, this function's frame holds it (``req``) for the helpers.
serves_requests(ASGIApp.__call__)


async def _other_scope(app: Kettle, scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        return await _lifespan(app, scope, receive, send)
    if scope["type"] == "websocket":
        # Not supported yet: refuse the handshake cleanly.
        await receive()
        await send({"type": "websocket.close", "code": 1008})
        return None
    raise RuntimeError(f"unsupported ASGI scope type {scope['type']!r}")


async def _to_mounted(endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
    # A foreign app sees the full path and a root_path extended by its prefix (ASGI spec).
    root = scope.get("root_path", "")
    child = {**scope, "root_path": root + endpoint.prefix, "path": root + scope["path"]}
    await endpoint.mount(child, receive, send)


async def _lifespan(app: Kettle, scope: Scope, receive: Receive, send: Send) -> None:
    under_server = TEST_CLIENT not in scope.get("extensions", ())
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            failure = await start_app(app, freeze=under_server)
            if failure is not None:
                await send({"type": "lifespan.startup.failed", "message": failure})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            failure = await stop_app(app)
            if failure is None:
                await send({"type": "lifespan.shutdown.complete"})
            else:
                await send({"type": "lifespan.shutdown.failed", "message": failure})
            return

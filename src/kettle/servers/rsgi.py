"""The RSGI adapter: the same app object served by granian's ``--interface rsgi``.

granian calls ``app.__rsgi__(scope, protocol)`` once per request, and
``__rsgi_init__(loop)`` / ``__rsgi_del__(loop)`` around a worker's life: kettle's startup
and shutdown, as the ASGI lifespan runs them. A request gets what it gets over ASGI — the
head checks (header count and size, one valid Host), routing, the chain, error handling,
sessions, the app's security headers — and the answer goes out in one protocol call
(``response_bytes``) or as a stream (``response_stream``), with the same bytes.

RSGI hands over a scope object, not a dict, and takes headers as ``str`` pairs, so:

- :class:`RSGIRequest` builds the ASGI-shaped ``scope`` dict the rest of kettle reads on
  the first use of ``req.scope``; a handler that never looks (plaintext, a returned
  dict) never pays for it.
- Header blocks that never change (the security headers, the JSON content type) are
  converted to ``str`` once per app; per response only the handler's own headers are.
- Mounted ASGI and WSGI apps run behind a small ASGI bridge (``_rsgi_bridge.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .._current import serves_requests
from ..exceptions import BadRequest, ClientDisconnect, HTTPError
from ..json import encode_json
from ..requests import Request
from ..responses import Response, coerce_response
from ._common import DRESSED, close_stream, head_refusal, pump, start_app, stop_app
from ._rsgi_bridge import (
    STR_LENGTHS,
    WireHeaders,
    address,
    lossy_raw_path,
    to_mounted,
)

if TYPE_CHECKING:
    from granian.rsgi import HTTPProtocol  # type: ignore[attr-defined]
    from granian.rsgi import Scope as RSGIScope

    from ..app import Kettle

__all__ = ["RSGIApp", "RSGIRequest"]

_HTTP_VERSIONS = {"1": "1.0", "1.1": "1.1", "2": "2", "3": "3"}
# The slot Request keeps its scope in; RSGIRequest puts a lazy property in front of it.
_SCOPE_SLOT = Request.__dict__["scope"]
_get_scope = _SCOPE_SLOT.__get__
_set_scope = _SCOPE_SLOT.__set__


class RSGIRequest(Request):
    """A :class:`Request` over an RSGI scope: the ``scope`` dict is built on first use,
    and the body comes from the protocol's chunks.
    """

    __slots__ = ("_items", "_rsgi")

    _rsgi: RSGIScope
    #: The request's header pairs as granian gave them (read once, for the head check).
    _items: list[tuple[str, str]]

    def _scope(self) -> dict[str, Any]:
        scope: dict[str, Any] | None = _get_scope(self)
        if scope is None:
            rsgi = self._rsgi
            path = rsgi.path
            version = rsgi.http_version
            scope = {
                "type": "http",
                "http_version": _HTTP_VERSIONS.get(version, version),
                "method": rsgi.method,
                "scheme": rsgi.scheme,
                "path": path,
                # granian checked the target is valid UTF-8: encoding gives the bytes back.
                "query_string": rsgi.query_string.encode(),
                "root_path": "",
                "headers": [(name.encode(), value.encode()) for name, value in self._items],
                "client": address(rsgi.client),
                "server": address(rsgi.server),
            }
            if "\ufffd" in path:
                scope["raw_path"] = lossy_raw_path(path)
            _set_scope(self, scope)
        return scope

    # PERF: a property over the base class's slot; the setter is the slot's own (C) one,
    # so Request.__init__ storing None costs what storing a dict would.
    scope = property(_scope, _set_scope)

    async def _chunks(self, deadline: list[float] | None) -> AsyncIterator[bytes]:
        protocol: HTTPProtocol = self._receive
        chunks = protocol.__aiter__()
        received = 0
        while True:
            try:
                if deadline is None:
                    chunk = await chunks.__anext__()
                else:
                    async with asyncio.timeout_at(deadline[0]):
                        chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            if chunk:
                received += len(chunk)
                yield chunk
        # granian ends the chunks early, without an error, when the client goes away in
        # the middle of the body: a declared length not reached says so.
        declared = self.content_length
        if declared is not None and received < declared:
            raise ClientDisconnect("the client disconnected while sending the body")


def _lost_host(rsgi: RSGIScope) -> HTTPError | None:
    # granian leaves out header values that are not visible ASCII; a Host that went
    # missing that way is a bad Host, not a request without one.
    if "host" in rsgi.headers:
        return BadRequest("invalid Host header")
    return None


def _proxied(app: Kettle, req: RSGIRequest) -> tuple[HTTPError | None, bool]:
    """The head check behind trusted proxies, and whether the client used https.

    As over ASGI, the proxies are believed first, so the Host checked is the forwarded
    one; that needs the scope dict, so it is built here.
    """
    assert app._proxies is not None
    scope = app._proxies.apply(req.scope)
    _set_scope(req, scope)
    headers = scope["headers"]
    count = len(headers)
    host = None
    hosts = size = 0
    if count <= app._max_headers:
        for name, value in headers:
            size += len(name) + len(value)
            if name == b"host":
                host = value
                hosts += 1
    refusal = head_refusal(app, count, size, hosts, host)
    if refusal is None and host is None:
        refusal = _lost_host(req._rsgi)
    return refusal, scope.get("scheme") == "https"


class RSGIApp:
    """The RSGI entry points mixed into :class:`~kettle.Kettle`."""

    #: The app's constant header blocks as ``str`` pairs (built on the first RSGI request).
    _rsgi_wire: WireHeaders | None = None

    def __rsgi_init__(self: Kettle, loop: asyncio.AbstractEventLoop) -> None:  # type: ignore[misc]
        """Run the app's startup (granian calls this in each worker before serving)."""
        if loop.run_until_complete(start_app(self)) is not None:
            # Logged already; a worker that cannot start must not serve (as the ASGI
            # lifespan's startup.failed stops it).
            raise SystemExit(1)

    def __rsgi_del__(self: Kettle, loop: asyncio.AbstractEventLoop) -> None:  # type: ignore[misc]
        """Run the app's shutdown (granian calls this when a worker stops)."""
        loop.run_until_complete(stop_app(self))

    # PERF: one flat function on purpose, like ASGIApp.__call__; see that for the steps.
    async def __rsgi__(self: Kettle, rsgi: RSGIScope, protocol: HTTPProtocol) -> None:  # type: ignore[misc]  # noqa: C901
        """Serve one RSGI request."""
        if rsgi.proto != "http":
            # WebSockets are not supported yet: refuse the upgrade, as the ASGI adapter does.
            protocol.close(403)  # type: ignore[attr-defined]
            return None
        if not self._finalized:
            self.finalize()
        wire = self._rsgi_wire
        if wire is None or wire.source is not self._api_headers:
            wire = self._rsgi_wire = WireHeaders(self)
        req = RSGIRequest(None, protocol, self)  # type: ignore[arg-type]
        req._rsgi = rsgi
        items = req._items = rsgi.headers.items()
        refusal: HTTPError | None = None
        if self._proxies is not None:
            refusal, https = _proxied(self, req)
        else:
            count = len(items)
            if count > self._max_headers:
                refusal = head_refusal(self, count, 0, 0, None)
            else:
                # PERF: the ASGI adapter's one pass, over granian's str pairs; the Host
                # is encoded once for the known-hosts dict (ASCII: len is the byte count).
                host = None
                hosts = size = 0
                for name, value in items:
                    size += len(name) + len(value)
                    if name == "host":
                        host = value
                        hosts += 1
                if host is not None:
                    encoded = host.encode()
                    if size > self._max_head or hosts > 1 or encoded not in self._known_hosts:
                        refusal = head_refusal(self, count, size, hosts, encoded)
                elif size > self._max_head:
                    refusal = head_refusal(self, count, size, 0, None)
                else:
                    refusal = _lost_host(rsgi)
            https = rsgi.scheme == "https"
        method = rsgi.method
        path = rsgi.path
        # PERF: Kettle.match's static hit and dynamic match, inlined with the path and
        # method in hand, so routing does not need the scope dict; everything else (404,
        # 405, 414, redirects, mounts, lossy paths) goes to Kettle.match itself.
        entry = self._static.get(path)
        endpoint = entry.methods.get(method) if entry is not None else None
        if refusal is not None:
            endpoint = self._root_fallback
        elif endpoint is not None:
            req.route = endpoint.route
        elif entry is None and len(path) <= self._max_path and "\ufffd" not in path:
            found = self._table.match_dynamic(path)
            if found is not None and (endpoint := found[0].methods.get(method)) is not None:
                req.route = endpoint.route
                req._values = found[1]
            else:
                endpoint = self.match(req)
        else:
            endpoint = self.match(req)
        if endpoint.mount is not None:
            return await to_mounted(endpoint, req.scope, protocol)
        try:
            try:
                if refusal is not None:
                    raise refusal
                result = await endpoint.chain(req)
                if result.__class__ is dict and req._session is None:
                    # PERF: a returned dict skips the Response object, as over ASGI.
                    body = encode_json(result)
                    response = None
                else:
                    response = result if isinstance(result, Response) else coerce_response(result)
            except Exception as exc:
                response = await endpoint.errors.handle(req, exc)
            if response is None:
                size = len(body)
                out = [
                    wire.json_type,
                    ("content-length", STR_LENGTHS[size] if size < 4096 else str(size)),
                ]
                if wire.api is not None:
                    out += wire.api[https]
                protocol.response_bytes(200, out, b"" if method == "HEAD" else body)
                return None
            if req._session is not None:
                await self.extensions["sessions"].save(req, response)
            if response._secure_cookies is not None:
                response.prepare(https)
            scope = _get_scope(req)
            # Dressed here unless a router's or route's own SecurityHeaders did it (it
            # marks the scope, so a request that never built one was not dressed).
            dress = self._security_headers is not None and (
                scope is None or scope.get(DRESSED) is not response
            )
            out = wire.response(response.raw_headers, https, dress)
            stream = response.stream
            if stream is None:
                protocol.response_bytes(
                    response.status_code, out, b"" if method == "HEAD" else response.body
                )
            else:
                await _send_stream(protocol, response.status_code, out, stream, method == "HEAD")
        finally:
            if req._form is not None:
                await req.close()
        return None


# While a request is served, this function's frame holds it (``req``) for the helpers.
serves_requests(RSGIApp.__rsgi__)


async def _send_stream(
    protocol: HTTPProtocol,
    status: int,
    headers: list[tuple[str, str]],
    stream: AsyncIterator[bytes],
    head: bool,
) -> None:
    transport = protocol.response_stream(status, headers)
    if head:
        await close_stream(stream)
        return
    from granian.rsgi import ProtocolClosed  # type: ignore[attr-defined]  # no __all__ there

    # granian raises ProtocolClosed on a write once the client is gone: a disconnect too.
    await pump(stream, transport.send_bytes, protocol.client_disconnect, ProtocolClosed)

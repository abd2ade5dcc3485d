"""Pure ASGI middleware for the Starlette-family peers (Starlette and FastAPI).

Pure ASGI middleware is the fast form Starlette's documentation recommends; its
``BaseHTTPMiddleware`` costs far more per layer (BENCHMARKS.md measured 550 requests/s
behind ten of them), so the peers are given the fast form.
"""

from __future__ import annotations

from typing import Any

from bench.peers import _common as c

ASGIApp = Any
_PEER_HEADERS = c.raw(c.PEER_HEADERS)


class Noop:
    """A middleware that passes every call through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class HelmetHeaders:
    """Add the Helmet header set to every HTTP response's start message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *_PEER_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

# mypy: disable-error-code="import-not-found", allow-untyped-decorators, allow-subclassing-any
# (The peers live in bench/.venv-peers; kettle's own mypy runs without them installed.)
"""Starlette at its best: a route list, orjson responses, pure ASGI middleware, Jinja2.

Secure track: Helmet's header set added by a pure ASGI middleware around the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.templating import Jinja2Templates

from bench.peers import _common as c
from bench.peers._asgi_middleware import HelmetHeaders, Noop

_pool: Any = None
templates = Jinja2Templates(directory=str(c.TEMPLATES))


class ORJSONResponse(JSONResponse):
    """Starlette's documented way to swap the JSON encoder: override ``render``."""

    def render(self, content: Any) -> bytes:
        data: bytes = orjson.dumps(content)
        return data


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global _pool
    _pool = await asyncpg.create_pool(c.DATABASE_URL, min_size=1, max_size=c.POOL_SIZE)
    yield
    await _pool.close()


async def plaintext(request: Request) -> Response:
    return PlainTextResponse(c.MESSAGE)


async def json(request: Request) -> Response:
    return ORJSONResponse({"message": c.MESSAGE})


async def user(request: Request) -> Response:
    return ORJSONResponse({"id": request.path_params["id"]})


async def db(request: Request) -> Response:
    row = await _pool.fetchrow(c.WORLD_QUERY, c.random_id())
    return ORJSONResponse({"id": row[0], "randomNumber": row[1]})


async def fortunes(request: Request) -> Response:
    rows = await _pool.fetch(c.FORTUNE_QUERY)
    return templates.TemplateResponse(
        request, c.FORTUNES_TEMPLATE, {"fortunes": c.sort_fortunes(rows)}
    )


async def io_wait(request: Request) -> Response:
    await asyncio.sleep(c.IO_WAIT)
    return PlainTextResponse(c.MESSAGE)


routes: list[BaseRoute] = [
    Route("/plaintext", plaintext),
    Route("/json", json),
    Route("/users/{id:int}", user),
    Route("/db", db),
    Route("/fortunes", fortunes),
    Route("/io", io_wait),
    Mount(
        "/mw",
        routes=[Route("/json", json)],
        middleware=[Middleware(Noop) for _ in range(c.MIDDLEWARE_DEPTH)],
    ),
]
routes += [Route(f"/route{n}/{{id:int}}", user, name=f"route{n}") for n in range(c.ROUTE_COUNT)]

app = Starlette(
    routes=routes,
    lifespan=lifespan,
    middleware=[Middleware(HelmetHeaders)] if c.SECURE else [],
)

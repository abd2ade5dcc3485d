# mypy: disable-error-code="import-not-found", allow-untyped-decorators, allow-subclassing-any
# (The peers live in bench/.venv-peers; kettle's own mypy runs without them installed.)
"""FastAPI at its best: typed path parameters and return types, pure ASGI middleware.

A declared return type is FastAPI's documented fast path for JSON (Pydantic serializes
straight to bytes; ``ORJSONResponse`` is deprecated in its favour). The middleware
scenario is a sub-application mounted at ``/mw`` with ten pure ASGI middlewares
(``@app.middleware("http")`` would be ``BaseHTTPMiddleware``, far slower). Secure track:
Helmet's header set from a pure ASGI middleware on the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.templating import Jinja2Templates

from bench.peers import _common as c
from bench.peers._asgi_middleware import HelmetHeaders, Noop

_pool: Any = None
templates = Jinja2Templates(directory=str(c.TEMPLATES))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global _pool
    _pool = await asyncpg.create_pool(c.DATABASE_URL, min_size=1, max_size=c.POOL_SIZE)
    yield
    await _pool.close()


app = FastAPI(lifespan=lifespan, openapi_url=None)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return c.MESSAGE


@app.get("/json")
async def json() -> dict[str, str]:
    return {"message": c.MESSAGE}


async def user(id: int) -> dict[str, int]:
    return {"id": id}


app.add_api_route("/users/{id}", user)


@app.get("/db")
async def db() -> dict[str, int]:
    row = await _pool.fetchrow(c.WORLD_QUERY, c.random_id())
    return {"id": row[0], "randomNumber": row[1]}


@app.get("/fortunes")
async def fortunes(request: Request) -> Response:
    rows = await _pool.fetch(c.FORTUNE_QUERY)
    return templates.TemplateResponse(
        request, c.FORTUNES_TEMPLATE, {"fortunes": c.sort_fortunes(rows)}
    )


@app.get("/io", response_class=PlainTextResponse)
async def io_wait() -> str:
    await asyncio.sleep(c.IO_WAIT)
    return c.MESSAGE


deep = FastAPI(openapi_url=None)
deep.add_api_route("/json", json)
for _ in range(c.MIDDLEWARE_DEPTH):
    deep.add_middleware(Noop)
app.mount("/mw", deep)

for _n in range(c.ROUTE_COUNT):
    app.add_api_route(f"/route{_n}/{{id}}", user, name=f"route{_n}")

if c.SECURE:
    app.add_middleware(HelmetHeaders)

# mypy: disable-error-code="import-not-found", allow-untyped-decorators, allow-subclassing-any
# (The peers live in bench/.venv-peers; kettle's own mypy runs without them installed.)
"""Litestar at its best: typed handlers (msgspec JSON by default), a Router with ASGI
middleware for the middleware scenario, the Jinja template engine.

Secure track: Helmet's header set as app-level ``response_headers``, Litestar's own way.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from litestar import Litestar, MediaType, Router, get
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from bench.peers import _common as c

_pool: Any = None


async def open_pool() -> None:
    global _pool
    _pool = await asyncpg.create_pool(c.DATABASE_URL, min_size=1, max_size=c.POOL_SIZE)


async def close_pool() -> None:
    await _pool.close()


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return c.MESSAGE


@get("/json")
async def json() -> dict[str, str]:
    return {"message": c.MESSAGE}


@get("/users/{id:int}")
async def user(id: FromPath[int]) -> dict[str, int]:
    return {"id": id}


@get("/db")
async def db() -> dict[str, int]:
    row = await _pool.fetchrow(c.WORLD_QUERY, c.random_id())
    return {"id": row[0], "randomNumber": row[1]}


@get("/fortunes")
async def fortunes() -> Template:
    rows = await _pool.fetch(c.FORTUNE_QUERY)
    return Template(template_name=c.FORTUNES_TEMPLATE, context={"fortunes": c.sort_fortunes(rows)})


@get("/io", media_type=MediaType.TEXT)
async def io_wait() -> str:
    await asyncio.sleep(c.IO_WAIT)
    return c.MESSAGE


def noop(app: ASGIApp) -> ASGIApp:
    """A pure ASGI middleware factory that passes every call through."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)

    return middleware


@get("/json", name="deep_json")
async def deep_json() -> dict[str, str]:
    return {"message": c.MESSAGE}


deep = Router(
    path="/mw",
    route_handlers=[deep_json],
    middleware=[noop for _ in range(c.MIDDLEWARE_DEPTH)],
)


async def _routed(id: FromPath[int]) -> dict[str, int]:
    return {"id": id}


routes = [get(f"/route{n}/{{id:int}}", name=f"route{n}")(_routed) for n in range(c.ROUTE_COUNT)]

app = Litestar(
    route_handlers=[plaintext, json, user, db, fortunes, io_wait, deep, *routes],
    on_startup=[open_pool],
    on_shutdown=[close_pool],
    template_config=TemplateConfig(directory=c.TEMPLATES, engine=JinjaTemplateEngine),
    response_headers=[ResponseHeader(name=k, value=v) for k, v in c.PEER_HEADERS],
    openapi_config=None,
)

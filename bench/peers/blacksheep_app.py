# mypy: disable-error-code="import-not-found", allow-untyped-decorators, allow-subclassing-any
# mypy: allow-untyped-calls
# (The peers live in bench/.venv-peers; kettle's own mypy runs without them installed.)
"""BlackSheep at its best: its Cython core, orjson as its JSON, Jinja2 for the page.

BlackSheep middlewares are application-wide, so the middleware scenario is a second
BlackSheep application (with its own router) with ten no-op middlewares, mounted at
``/mw``. ``view()`` looks for ``.jinja`` files, so the page every peer shares is rendered
with Jinja2 directly and sent with ``html()``. Secure track: Helmet's header set from a
middleware on the main application.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import jinja2
import orjson
from blacksheep import Application, Request, Response, Router, html, json, text
from blacksheep.settings.json import json_settings

from bench.peers import _common as c


def _dumps(value: Any) -> str:
    data: bytes = orjson.dumps(value)
    return data.decode()


# PERF: BlackSheep's documented switch to a faster JSON library.
json_settings.use(loads=orjson.loads, dumps=_dumps)
_template = jinja2.Environment(
    loader=jinja2.FileSystemLoader(c.TEMPLATES), autoescape=True
).get_template(c.FORTUNES_TEMPLATE)

app = Application(router=Router())
_pool: Any = None


async def open_pool(application: Application) -> None:
    global _pool
    _pool = await asyncpg.create_pool(c.DATABASE_URL, min_size=1, max_size=c.POOL_SIZE)


async def close_pool(application: Application) -> None:
    await _pool.close()


app.on_start += open_pool
app.on_stop += close_pool
get = app.router.get


@get("/plaintext")
async def plaintext() -> Response:
    return text(c.MESSAGE)


@get("/json")
async def json_message() -> Response:
    return json({"message": c.MESSAGE})


async def user(id: int) -> Response:
    return json({"id": id})


app.router.add_get("/users/{int:id}", user)


@get("/db")
async def db() -> Response:
    row = await _pool.fetchrow(c.WORLD_QUERY, c.random_id())
    return json({"id": row[0], "randomNumber": row[1]})


@get("/fortunes")
async def fortunes() -> Response:
    rows = await _pool.fetch(c.FORTUNE_QUERY)
    return html(_template.render(fortunes=c.sort_fortunes(rows)))


@get("/io")
async def io_wait() -> Response:
    await asyncio.sleep(c.IO_WAIT)
    return text(c.MESSAGE)


async def noop(request: Request, handler: Any) -> Response:
    response: Response = await handler(request)
    return response


deep = Application(router=Router())
for _ in range(c.MIDDLEWARE_DEPTH):
    deep.middlewares.append(noop)
deep.router.add_get("/json", json_message)
app.mount("/mw", deep)

for _n in range(c.ROUTE_COUNT):
    app.router.add_get(f"/route{_n}/{{int:id}}", user)

_HELMET = [(name.encode(), value.encode()) for name, value in c.PEER_HEADERS]


async def helmet(request: Request, handler: Any) -> Response:
    response: Response = await handler(request)
    for name, value in _HELMET:
        response.add_header(name, value)
    return response


if c.SECURE:
    # A mounted application runs its own middlewares only: both get the headers.
    app.middlewares.append(helmet)
    deep.middlewares.insert(0, helmet)

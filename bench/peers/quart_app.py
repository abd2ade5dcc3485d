# mypy: disable-error-code="import-not-found", allow-untyped-decorators, allow-subclassing-any
# (The peers live in bench/.venv-peers; kettle's own mypy runs without them installed.)
"""Quart as its users write it: Flask's API on asyncio, blueprint hooks as middleware.

The middleware scenario is a blueprint with ten no-op ``before_request`` hooks (Quart,
like Flask, has no per-router ``use()``); secure track: Helmet's header set from an
``after_request`` hook.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from quart import Blueprint, Quart, Response, render_template

from bench.peers import _common as c

app = Quart(__name__, template_folder=str(c.TEMPLATES))
_pool: Any = None


@app.before_serving
async def open_pool() -> None:
    global _pool
    _pool = await asyncpg.create_pool(c.DATABASE_URL, min_size=1, max_size=c.POOL_SIZE)


@app.after_serving
async def close_pool() -> None:
    await _pool.close()


@app.get("/plaintext")
async def plaintext() -> Response:
    return Response(c.MESSAGE, mimetype="text/plain")


@app.get("/json")
async def json() -> dict[str, str]:
    return {"message": c.MESSAGE}


async def user(id: int) -> dict[str, int]:
    return {"id": id}


app.add_url_rule("/users/<int:id>", "user", user)


@app.get("/db")
async def db() -> dict[str, int]:
    row = await _pool.fetchrow(c.WORLD_QUERY, c.random_id())
    return {"id": row[0], "randomNumber": row[1]}


@app.get("/fortunes")
async def fortunes() -> str:
    rows = await _pool.fetch(c.FORTUNE_QUERY)
    page: str = await render_template(c.FORTUNES_TEMPLATE, fortunes=c.sort_fortunes(rows))
    return page


@app.get("/io")
async def io_wait() -> Response:
    await asyncio.sleep(c.IO_WAIT)
    return Response(c.MESSAGE, mimetype="text/plain")


async def noop() -> None:
    return None


deep = Blueprint("deep", __name__)
for _ in range(c.MIDDLEWARE_DEPTH):
    deep.before_request(noop)
deep.add_url_rule("/json", "json", json)
app.register_blueprint(deep, url_prefix="/mw")

for _n in range(c.ROUTE_COUNT):
    app.add_url_rule(f"/route{_n}/<int:id>", f"route{_n}", user)

_HELMET = dict(c.PEER_HEADERS)

if c.SECURE:

    @app.after_request
    async def helmet(response: Response) -> Response:
        response.headers.update(_HELMET)
        return response

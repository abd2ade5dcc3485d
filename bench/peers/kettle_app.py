"""kettle with its production defaults, the eight scenarios written as a kettle user would.

The secure track is kettle as it comes (security headers, CSRF, Host checks all on); the
bare track turns ``SECURITY_HEADERS`` off. The same ``app`` object is served by uvicorn,
by granian's ASGI interface and by granian's RSGI interface.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import asyncpg

from bench.peers import _common as c
from kettle import Kettle, Request, Response, Router, TextResponse, render_template

app = Kettle(
    __name__,
    config={
        "SECRET_KEY": os.environ.get("KETTLE_SECRET_KEY", "bench-" + "k" * 40),
        "SECURITY_HEADERS": c.SECURE,
    },
)
_pool: Any = None


@app.on_startup
async def _open_pool() -> None:
    global _pool
    _pool = await asyncpg.create_pool(c.DATABASE_URL, min_size=1, max_size=c.POOL_SIZE)


@app.on_shutdown
async def _close_pool() -> None:
    if _pool is not None:
        await _pool.close()


@app.get("/plaintext")
async def plaintext(req: Request) -> Response:
    return TextResponse(c.MESSAGE)


@app.get("/json")
async def json(req: Request) -> dict[str, str]:
    return {"message": c.MESSAGE}


@app.get("/users/<int:id>")
async def user(req: Request, id: int) -> dict[str, int]:
    return {"id": id}


@app.get("/db")
async def db(req: Request) -> dict[str, int]:
    row = await _pool.fetchrow(c.WORLD_QUERY, c.random_id())
    return {"id": row[0], "randomNumber": row[1]}


@app.get("/fortunes")
async def fortunes(req: Request) -> str:
    rows = await _pool.fetch(c.FORTUNE_QUERY)
    return render_template(c.FORTUNES_TEMPLATE, fortunes=c.sort_fortunes(rows))


@app.get("/io")
async def io_wait(req: Request) -> Response:
    await asyncio.sleep(c.IO_WAIT)
    return TextResponse(c.MESSAGE)


async def _noop(req: Request, call_next: Any) -> Response:
    return await call_next(req)  # type: ignore[no-any-return]


# The middleware scenario: the json handler behind ten no-op use() middlewares.
_deep = Router("deep")
for _ in range(c.MIDDLEWARE_DEPTH):
    _deep.use(_noop)


@_deep.get("/json")
async def deep_json(req: Request) -> dict[str, str]:
    return {"message": c.MESSAGE}


app.mount("/mw", _deep)


async def _routed(req: Request, id: int) -> dict[str, int]:
    return {"id": id}


# routes-1000: a thousand dynamic routes; the scenario requests the last one.
for _n in range(c.ROUTE_COUNT):
    app.add_route(f"/route{_n}/<int:id>", _routed, ["GET"], name=f"route{_n}")

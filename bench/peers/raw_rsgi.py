"""The RSGI ceiling: a hand-written granian RSGI app sending kettle's exact response bytes.

One ``proto.response_bytes`` call per request, headers as granian wants them (``str``
pairs). The database pool is opened in ``__rsgi_init__``, before granian starts serving.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import jinja2
import msgspec

from bench.peers import _common as c

_encode = msgspec.json.encode
_template = jinja2.Environment(
    loader=jinja2.FileSystemLoader(c.TEMPLATES), autoescape=True
).get_template(c.FORTUNES_TEMPLATE)
_PLAIN = c.MESSAGE.encode()
_TEXT = ("content-type", "text/plain; charset=utf-8")
_JSON = ("content-type", "application/json")
_HTML = ("content-type", "text/html; charset=utf-8")
_PLAIN_HEADERS = [_TEXT, ("content-length", str(len(_PLAIN))), *c.KETTLE_API]


def _headers(kind: tuple[str, str], body: bytes, extra: Any) -> list[tuple[str, str]]:
    return [kind, ("content-length", str(len(body))), *extra]


class RawRSGI:
    """The RSGI app object: granian calls ``__rsgi_init__`` once, then ``__rsgi__``."""

    def __init__(self) -> None:
        self.pool: Any = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = loop.run_until_complete(
            asyncpg.create_pool(c.DATABASE_URL, min_size=1, max_size=c.POOL_SIZE)
        )

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.pool is not None:
            loop.run_until_complete(self.pool.close())

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        """Answer the scenario paths with kettle's bytes; 404 for anything else."""
        if scope.proto != "http":
            return
        path: str = scope.path
        if path == "/plaintext":
            proto.response_bytes(200, _PLAIN_HEADERS, _PLAIN)
        elif path in ("/json", "/mw/json"):
            body = _encode({"message": c.MESSAGE})
            proto.response_bytes(200, _headers(_JSON, body, c.KETTLE_API), body)
        elif path.startswith(("/users/", "/route")):
            body = _encode({"id": int(path.rpartition("/")[2])})
            proto.response_bytes(200, _headers(_JSON, body, c.KETTLE_API), body)
        elif path == "/db":
            row = await self.pool.fetchrow(c.WORLD_QUERY, c.random_id())
            body = _encode({"id": row[0], "randomNumber": row[1]})
            proto.response_bytes(200, _headers(_JSON, body, c.KETTLE_API), body)
        elif path == "/fortunes":
            rows = await self.pool.fetch(c.FORTUNE_QUERY)
            body = _template.render(fortunes=c.sort_fortunes(rows)).encode()
            proto.response_bytes(200, _headers(_HTML, body, c.KETTLE_HTML), body)
        elif path == "/io":
            await asyncio.sleep(c.IO_WAIT)
            proto.response_bytes(200, _PLAIN_HEADERS, _PLAIN)
        else:
            proto.response_empty(404, [])


app = RawRSGI()

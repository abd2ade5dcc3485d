"""The ASGI ceiling: a hand-written callable sending kettle's exact response bytes.

Whatever kettle sends for a scenario on a track — content type, content length, the
security headers of that kind of response, msgspec's JSON — this app sends too, with as
little Python in between as can be written. The middleware and routes-1000 paths answer
like json and params: the ceiling has no router or middleware to scale.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import jinja2
import msgspec

from bench.peers import _common as c

_encode = msgspec.json.encode
_API = c.raw(c.KETTLE_API)
_HTML = c.raw(c.KETTLE_HTML)
_TEXT_TYPE = (b"content-type", b"text/plain; charset=utf-8")
_JSON_TYPE = (b"content-type", b"application/json")
_HTML_TYPE = (b"content-type", b"text/html; charset=utf-8")
_PLAIN = c.MESSAGE.encode()
_PLAIN_HEADERS = [_TEXT_TYPE, (b"content-length", str(len(_PLAIN)).encode()), *_API]
_template = jinja2.Environment(
    loader=jinja2.FileSystemLoader(c.TEMPLATES), autoescape=True
).get_template(c.FORTUNES_TEMPLATE)
_state: dict[str, Any] = {}

Scope = dict[str, Any]
Receive = Any
Send = Any


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _state["pool"] = await asyncpg.create_pool(
                c.DATABASE_URL, min_size=1, max_size=c.POOL_SIZE
            )
            await send({"type": "lifespan.startup.complete"})
        else:
            await _state["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _send(send: Send, body: bytes, kind: tuple[bytes, bytes], extra: Any) -> None:
    headers = [kind, (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer the scenario paths with kettle's bytes; 404 for anything else."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        return
    path: str = scope["path"]
    if path == "/plaintext":
        await send({"type": "http.response.start", "status": 200, "headers": _PLAIN_HEADERS})
        await send({"type": "http.response.body", "body": _PLAIN})
    elif path in ("/json", "/mw/json"):
        await _send(send, _encode({"message": c.MESSAGE}), _JSON_TYPE, _API)
    elif path.startswith(("/users/", "/route")):
        await _send(send, _encode({"id": int(path.rpartition("/")[2])}), _JSON_TYPE, _API)
    elif path == "/db":
        row = await _state["pool"].fetchrow(c.WORLD_QUERY, c.random_id())
        await _send(send, _encode({"id": row[0], "randomNumber": row[1]}), _JSON_TYPE, _API)
    elif path == "/fortunes":
        rows = await _state["pool"].fetch(c.FORTUNE_QUERY)
        page = _template.render(fortunes=c.sort_fortunes(rows)).encode()
        await _send(send, page, _HTML_TYPE, _HTML)
    elif path == "/io":
        await asyncio.sleep(c.IO_WAIT)
        await send({"type": "http.response.start", "status": 200, "headers": _PLAIN_HEADERS})
        await send({"type": "http.response.body", "body": _PLAIN})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

"""The apps the quick benchmark compares: a raw ASGI ceiling and kettle, same bytes out."""

from __future__ import annotations

import os
from typing import Any

import msgspec

from kettle import Kettle, Request, Response, Router, TextResponse

_encode = msgspec.json.encode
_TEXT = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"13")]


async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A hand-written ASGI app: the ceiling kettle is measured against."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        return
    path = scope["path"]
    if path == "/plaintext":
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT})
        await send({"type": "http.response.body", "body": b"Hello, World!"})
    elif path == "/json":
        body = _encode({"message": "Hello, World!"})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif path.startswith("/users/"):
        body = _encode({"id": int(path[7:])})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


app = Kettle(
    __name__, config={"SECRET_KEY": os.environ.get("KETTLE_SECRET_KEY", "bench-" + "x" * 32)}
)


@app.get("/plaintext")
async def plaintext(req: Request) -> Response:
    return TextResponse("Hello, World!")


@app.get("/json")
async def json(req: Request) -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/users/<int:id>")
async def user(req: Request, id: int) -> dict[str, int]:
    return {"id": id}


async def _noop(req: Request, call_next: Any) -> Response:
    return await call_next(req)  # type: ignore[no-any-return]


# The middleware scenario: the json handler behind ten no-op use() middlewares.
_deep = Router("deep")
for _ in range(10):
    _deep.use(_noop)


@_deep.get("/json")
async def deep_json(req: Request) -> dict[str, str]:
    return {"message": "Hello, World!"}


app.mount("/mw", _deep)

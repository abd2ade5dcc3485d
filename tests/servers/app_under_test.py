"""The kettle app that tests/servers/test_asgi_servers.py serves with real ASGI servers.

Servers import it as ``app_under_test:app`` with this directory on ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from flask import Flask, jsonify
from flask import request as flask_request
from flask import url_for as flask_url_for

from kettle import Kettle, Request, Response, Router, url_for

#: Small, so the over-the-limit tests send little.
BODY_LIMIT = 64 * 1024
#: The body of ``/admin``; path tricks must never get to see it.
ADMIN_SECRET = "admin-area-secret"
#: The message of the exception ``/boom`` raises; it must stay out of the response.
BOOM_DETAIL = "boom-detail-not-for-clients"

#: Printed to stdout by the shutdown hook, for the test that stops a server to look for.
SHUTDOWN_MARK = "kettle-shutdown-hook-ran"

app = Kettle(__name__, config={"SECRET_KEY": "x" * 32, "MAX_BODY_SIZE": BODY_LIMIT})

#: Set by ``/release``; ``/blocked`` (a plain ``def``) waits for it in its worker thread.
released = threading.Event()
#: How many infinite ``/forever`` streams have been closed after their client went away.
closed_streams: list[int] = []


@app.on_startup
async def started() -> None:
    app.state.started = True


@app.on_shutdown
def stopped() -> None:
    print(SHUTDOWN_MARK, flush=True)


@app.use
async def tag(req: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(req)
    response.headers["x-kettle-middleware"] = "app"
    return response


@app.get("/gc")
async def gc_state(req: Request) -> dict[str, int]:
    return {"frozen": gc.get_freeze_count()}


@app.get("/plaintext")
async def plaintext(req: Request) -> Response:
    return Response(b"Hello, World!", media_type="text/plain")


@app.get("/json")
async def json_route(req: Request) -> dict[str, Any]:
    # Reads the query, so a bad query string shows up here as a 400.
    return {"message": "Hello, World!", "query": dict(req.query)}


@app.get("/users/<int:id>")
async def show_user(req: Request, id: int) -> dict[str, Any]:
    return {"id": id, "type": type(id).__name__}


@app.post("/echo")
async def echo(req: Request) -> Any:
    return await req.json()


async def peek_body(req: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    # Reads the body before the handler, which reads it again.
    size = len(await req.body())
    response = await call_next(req)
    response.headers["x-body-seen-by-middleware"] = str(size)
    return response


@app.post("/upload")
async def upload(req: Request) -> dict[str, int]:
    return {"size": len(await req.body())}


@app.post("/peek", middleware=[peek_body])
async def peek(req: Request) -> dict[str, int]:
    return {"size": len(await req.body())}


@app.get("/whoami")
async def whoami(req: Request) -> dict[str, Any]:
    client = req.client
    return {
        "client": client.host if client else None,
        "scheme": req.scheme,
        "url": str(req.url),
        "multi": req.headers.getlist("x-multi"),
    }


@app.get("/cookies")
async def cookies(req: Request) -> Response:
    response = Response(b"ok", media_type="text/plain")
    response.set_cookie("first", "1")
    response.set_cookie("second", "2", httponly=False)
    return response


@app.get("/big")
async def big(req: Request) -> bytes:
    return bytes(range(256)) * 4096  # 1 MiB


@app.get("/blocked")
def blocked(req: Request) -> dict[str, bool]:
    # If this thread were the event loop, /release could never run and this would time out.
    was_set = released.wait(timeout=30)
    released.clear()
    return {"released": was_set}


@app.get("/release")
async def release(req: Request) -> dict[str, bool]:
    released.set()
    return {"ok": True}


@app.get("/forever")
def forever() -> Iterator[bytes]:
    try:
        while True:
            yield b"tick\n"
            time.sleep(0.01)
    finally:
        closed_streams.append(1)


@app.get("/forever/closed")
async def forever_closed(req: Request) -> dict[str, int]:
    return {"closed": len(closed_streams)}


@app.post("/form")
async def form(req: Request) -> dict[str, str]:
    return {key: str(value) for key, value in (await req.form()).items()}


@app.get("/sync")
def sync_handler(req: Request) -> dict[str, bool]:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return {"on_loop": False}
    return {"on_loop": True}


@app.get("/stream")
def stream() -> Iterator[str]:
    for i in range(5):
        yield f"chunk-{i}\n"


@app.get("/astream")
async def astream() -> AsyncIterator[bytes]:
    for i in range(5):
        await asyncio.sleep(0)
        yield f"achunk-{i}\n".encode()


@app.get("/boom")
async def boom(req: Request) -> None:
    raise RuntimeError(BOOM_DETAIL)


@app.get("/state")
async def state(req: Request) -> dict[str, bool]:
    return {"started": bool(app.state.get("started", False))}


@app.get("/slash/")
async def slash(req: Request) -> str:
    return "slash"


@app.route("/slash/", methods=["POST"])
async def slash_post(req: Request) -> str:
    return "posted"


@app.get("/admin")
async def admin(req: Request) -> str:
    return ADMIN_SECRET


@app.get("/a/<name>")
async def a_name(req: Request, name: str) -> dict[str, str]:
    return {"name": name}


@app.get("/links")
async def links(req: Request) -> dict[str, str]:
    return {"user": url_for("show_user", id=7), "item": url_for("api.item", id=3)}


api = Router(name="api")


@api.use
async def api_tag(req: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(req)
    response.headers["x-kettle-router"] = "api"
    return response


@api.get("/items/<int:id>")
async def item(req: Request, id: int) -> dict[str, Any]:
    return {"item": id, "url": req.url_for("api.item", id=id)}


app.mount("/api", api)

flask_app = Flask(__name__)


@flask_app.get("/")
def flask_index() -> Any:
    return jsonify(
        script_root=flask_request.script_root,
        path=flask_request.path,
        link=flask_url_for("flask_hello"),
    )


@flask_app.get("/hello")
def flask_hello() -> str:
    return "hello from flask"


app.mount("/flask", flask_app)

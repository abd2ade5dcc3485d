"""The kettle app tests/servers/test_rsgi.py serves with granian over ASGI and over RSGI.

One app object, every kind of answer kettle gives (bodies, dicts, streams, files, ranges,
cookies, sessions, redirects, error pages, security header variants, a mounted ASGI app),
so the two protocols can be compared byte for byte. Servers import it as ``wire_app:app``
with this directory on ``PYTHONPATH``; ``WIRE_FILE`` names the file ``/file`` sends.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from kettle import (
    ClientDisconnect,
    Kettle,
    Request,
    Response,
    TextResponse,
    redirect,
    security_headers,
    send_file,
    url_for,
)

BODY_LIMIT = 8 * 1024 * 1024
#: Seconds a client may take to send a body (short, so the 408 test is quick).
BODY_TIMEOUT = 1.0
#: Printed by the startup and shutdown hooks, for the tests to look for in the log.
STARTUP_MARK = "wire-startup-hook-ran"
SHUTDOWN_MARK = "wire-shutdown-hook-ran"

app = Kettle(
    __name__,
    config={
        "SECRET_KEY": "w" * 32,
        "MAX_BODY_SIZE": BODY_LIMIT,
        "BODY_TIMEOUT": BODY_TIMEOUT,
        "TRUSTED_HOSTS": ["127.0.0.1", "example.test"],
    },
    static_folder=None,
)

#: What ``/upload/watch`` saw, by probe id: "complete <size>", or "disconnect".
outcomes: dict[str, str] = {}
#: How many ``/idle`` streams were closed after their client went away.
idle_closed: list[int] = []


@app.on_startup
async def started() -> None:
    if os.environ.get("WIRE_FAIL_STARTUP"):
        raise RuntimeError("startup refused on purpose")
    app.state.loop_id = id(asyncio.get_running_loop())
    print(STARTUP_MARK, flush=True)


@app.on_shutdown
def stopped() -> None:
    print(SHUTDOWN_MARK, flush=True)


@app.get("/plaintext")
async def plaintext(req: Request) -> Response:
    return TextResponse("Hello, World!")


@app.get("/json")
async def json_route(req: Request) -> dict[str, Any]:
    return {"message": "Hello, World!"}


@app.get("/users/<int:id>")
async def user(req: Request, id: int) -> dict[str, int]:
    return {"id": id}


@app.get("/html")
async def html(req: Request) -> str:
    return "<!doctype html><title>kettle</title><p>Hello</p>"


@app.get("/list")
async def listing(req: Request) -> list[int]:
    return [1, 2, 3]


@app.get("/empty")
async def empty(req: Request) -> Response:
    return Response(None, 204)


@app.get("/cookies")
async def cookies(req: Request) -> Response:
    response = TextResponse("ok")
    response.set_cookie("first", "1")
    response.set_cookie("second", "2", httponly=False)
    return response


@app.get("/go")
async def go(req: Request) -> Response:
    return redirect("/json")


@app.get("/boom")
async def boom(req: Request) -> None:
    raise RuntimeError("boom")


@app.get("/stream")
def stream() -> Iterator[bytes]:
    for i in range(5):
        yield f"chunk-{i}\n".encode()


@app.get("/idle")
async def idle() -> AsyncIterator[bytes]:
    try:
        yield b"first\n"
        await asyncio.Event().wait()  # never set: only the disconnect ends this stream
        yield b"never\n"
    finally:
        idle_closed.append(1)


@app.get("/idle/closed")
async def idle_count(req: Request) -> dict[str, int]:
    return {"closed": len(idle_closed)}


@app.get("/file")
async def file(req: Request) -> Response:
    return send_file(os.environ["WIRE_FILE"])


@app.get("/download")
async def download(req: Request) -> Response:
    return send_file(os.environ["WIRE_FILE"], download_name="résumé.bin", as_attachment=True)


@app.get("/session/set")
async def session_set(req: Request) -> dict[str, str]:
    req.session["value"] = req.query.get("value", "")
    return {"set": req.session["value"]}


@app.get("/session/get")
async def session_get(req: Request) -> dict[str, Any]:
    return {"value": req.session.get("value")}


@app.get("/own-headers", middleware=[security_headers(frame_options="DENY")])
async def own_headers(req: Request) -> Response:
    return TextResponse("dressed by the route")


@app.get("/utf8-header")
async def utf8_header(req: Request) -> Response:
    response = TextResponse("ok")
    response.raw_headers.append((b"x-utf8", "\u2713 d\u00e9j\u00e0".encode()))
    return response


@app.get("/latin1-header")
async def latin1_header(req: Request) -> Response:
    response = TextResponse("ok")
    response.headers["x-name"] = "caf\u00e9"  # latin-1 on the wire over ASGI: b"caf\xe9"
    return response


@app.get("/bad-header")
async def bad_header(req: Request) -> Response:
    response = TextResponse("ok")
    response.raw_headers.append((b"x-control", b"a\x01b"))
    return response


@app.get("/whoami")
async def whoami(req: Request) -> dict[str, Any]:
    client = req.client
    return {
        "client": client.host if client else None,
        "scheme": req.scheme,
        "host": req.host,
        "url": str(req.url),
        "http_version": req.scope["http_version"],
        "type": type(req).__name__,
    }


@app.get("/headers")
async def headers(req: Request) -> dict[str, list[str]]:
    return {name: req.headers.getlist(name) for name in ("x-multi", "x-case", "user-agent")}


@app.post("/upload")
async def upload(req: Request) -> dict[str, Any]:
    body = await req.body()
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@app.post("/upload/watch/<probe>")
async def upload_watch(req: Request, probe: str) -> dict[str, int]:
    size = 0
    try:
        async for chunk in req.stream():
            size += len(chunk)
    except ClientDisconnect:
        outcomes[probe] = "disconnect"
        raise
    outcomes[probe] = f"complete {size}"
    return {"size": size}


@app.get("/upload/outcome/<probe>")
async def upload_outcome(req: Request, probe: str) -> dict[str, str | None]:
    return {"outcome": outcomes.get(probe)}


@app.post("/form")
async def form(req: Request) -> dict[str, Any]:
    data = await req.form()
    [(field, upload)] = data.files()
    content = await upload.read()
    return {"name": data["name"], field: upload.filename, "size": len(content)}


@app.get("/loop")
async def loop(req: Request) -> dict[str, bool]:
    # Startup ran on the loop that serves requests (RSGI's __rsgi_init__ gets it).
    return {"same": app.state.loop_id == id(asyncio.get_running_loop())}


@app.get("/current/<int:n>")
async def current(req: Request, n: int) -> str:
    # Suspended while other requests run, then asks for its own request without ``req``.
    await asyncio.sleep(0.02)
    return url_for("current", n=n)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def asgi_child(scope: Scope, receive: Receive, send: Send) -> None:
    """A mounted raw ASGI app: echoes how much body it got, in two chunks."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    headers = [(b"content-type", b"text/plain"), (b"x-root", scope["root_path"].encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"got ", "more_body": True})
    await send({"type": "http.response.body", "body": str(size).encode()})


app.mount("/asgi", asgi_child)

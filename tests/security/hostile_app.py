"""The kettle app the hostile-input suite attacks, served by real uvicorn and granian.

Servers import it as ``hostile_app:asgi`` with this directory on ``PYTHONPATH`` and
``HOSTILE_ROOT`` naming a folder that :func:`prepare_root` filled: static files (and the
dotfiles, symlinks and siblings they must not leak), templates, an uploads folder and the
server's own ``TMPDIR``. Every route is a plain target for one or more numbered cases of
SECURITY.md; none of them defends itself — the framework must.

Two records make "never reached" observable from outside: :data:`asgi` notes the
``X-Probe`` header of every request the server hands to the app, and each handler notes it
when it runs (``GET /probe/<id>`` reports both). An audit hook notes every ``open()`` of a
file the static folders and template loader must never touch (``GET /audit``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import jinja2

from kettle import (
    Kettle,
    Request,
    Response,
    StreamingResponse,
    UploadFile,
    abort,
    redirect,
    render_template,
    safe_redirect,
)
from kettle.security import CORS

#: The app-wide body limit: small, so over-the-limit cases send little.
BODY_LIMIT = 64 * 1024
#: The body limit of /form, which takes big bodies on purpose (cases 13 and 16 to 25).
UPLOAD_LIMIT = 64 * 1024 * 1024
#: Seconds a body may take to arrive (case 15).
BODY_TIMEOUT = 1
#: The session keys: the newest signs, the older one still verifies (case 29).
SECRET_KEY = "hostile-newest-key-" + "n" * 24
OLD_SECRET_KEY = "hostile-older-key-" + "o" * 24
TRUSTED_HOSTS = ["127.0.0.1", "localhost", "example.com", ".example.org"]
#: What path tricks must never get to see.
ADMIN_SECRET = "admin-area-secret"
#: In the message of the exception ``/boom`` raises; it must stay out of the response.
BOOM_DETAIL = "<script>alert('boom-detail')</script>"
PROBE_HEADER = "x-probe"
#: In every file the static folders and the template loader must never serve.
LEAK = "TOP-SECRET-CONTENT"

ROOT = Path(os.environ.get("HOSTILE_ROOT", Path(__file__).resolve().parent / "hostile-root"))
#: Files no request may open: the audit hook records every attempt.
FORBIDDEN = (
    ROOT / "outside",
    ROOT / "static_secret",
    ROOT / "secret.txt",
    ROOT / "static" / ".env",
    ROOT / "static" / ".git",
    ROOT / "hostile_app.py",
)


def prepare_root(root: Path) -> None:
    """Fill ``root`` with the files the app serves, and the ones it must not serve."""
    static = root / "static"
    for folder in ("static/sub", "static/.git", "static_secret", "outside", "uploads", "tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    files = {
        "static/hello.txt": "hello from static\n",
        "static/ranges.txt": "0123456789" * 1000,
        "static/.env": f"SECRET={LEAK} dotenv\n",
        "static/.git/config": f"[core] {LEAK} git\n",
        "static/locked.txt": "locked file\n",
        "static_secret/x": f"{LEAK} sibling folder\n",
        "outside/secret.txt": f"{LEAK} outside the root\n",
        "secret.txt": f"{LEAK} root\n",
        "hostile_app.py": f"{LEAK} app source\n",
        "uploads/evil.html": "<script>alert('uploaded html')</script>\n",
        "uploads/evil.svg": '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "templates/page.html": '<p title="{{ title }}">{{ name }}</p>\n',
    }
    for name, text in files.items():
        path = root / name
        if not path.exists():  # locked.txt cannot be written twice
            path.write_text(text)
    (static / "locked.txt").chmod(0)
    for link, target in (("link-out", "../outside/secret.txt"), ("link-in", "hello.txt")):
        if not (static / link).is_symlink():
            (static / link).symlink_to(target)
    if not (static / "fifo").exists():
        os.mkfifo(static / "fifo")


#: Probe ids the server handed to the app, and those whose handler ran.
seen_by_app: set[str] = set()
handled: set[str] = set()
#: Body bytes ``/stream-count`` got to see per probe before the limit stopped it (case 9).
streamed: dict[str, int] = {}
#: ``open()`` calls on :data:`FORBIDDEN` files (paths as strings).
forbidden_opens: list[str] = []
_forbidden = tuple(str(path) for path in FORBIDDEN)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        path = os.fsdecode(args[0])
        if path.startswith(_forbidden) or path.endswith(("/etc/passwd", "win.ini")):
            forbidden_opens.append(path)


if "HOSTILE_ROOT" in os.environ:  # served; a test importing the constants needs no hook
    sys.addaudithook(_audit)

app = Kettle(
    __name__,
    config={
        "SECRET_KEY": SECRET_KEY,
        "SECRET_KEY_FALLBACKS": [OLD_SECRET_KEY],
        "MAX_BODY_SIZE": BODY_LIMIT,
        "BODY_TIMEOUT": BODY_TIMEOUT,
        "TRUSTED_HOSTS": TRUSTED_HOSTS,
    },
    template_folder=ROOT / "templates",
    static_folder=None,
)
# check_dir=False: tests import this module for its constants without a root to serve.
app.static("/static", ROOT / "static", check_dir=False)
app.static(
    "/static-follow", ROOT / "static", name="static_follow", follow_symlinks=True, check_dir=False
)
app.static("/uploads", ROOT / "uploads", name="uploads", untrusted=True, check_dir=False)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """The app as the servers see it: kettle, noting the probe of every HTTP request."""
    if scope["type"] == "http":
        for name, value in scope["headers"]:
            if name == PROBE_HEADER.encode():
                seen_by_app.add(value.decode("latin-1"))
    await app(scope, receive, send)


@app.errorhandler(404)
def not_found(req: Request, exc: Exception) -> tuple[dict[str, Any], int]:
    # Says which host the request's URL names: a raw path must never move it (case 5).
    try:
        url_host = req.url.hostname
    except ValueError:
        url_host = None
    return {"error": {"status": 404}, "path": req.path, "url_host": url_host}, 404


def mark(req: Request) -> None:
    """Note that a handler ran for this request's probe."""
    probe = req.headers.get(PROBE_HEADER)
    if probe:
        handled.add(probe)


@app.get("/ping")
async def ping(req: Request) -> Response:
    return Response(b"pong", media_type="text/plain")


@app.get("/probe/<id>")
async def probe(req: Request, id: str) -> dict[str, bool | int | None]:
    return {"app": id in seen_by_app, "handler": id in handled, "streamed": streamed.get(id)}


@app.get("/audit")
async def audit(req: Request) -> dict[str, list[str]]:
    return {"opens": forbidden_opens}


@app.get("/temp-files")
def temp_files(req: Request) -> dict[str, int]:
    # Uploads roll over to anonymous files in TMPDIR: any descriptor pointing there is one
    # still open (closed ones are gone from /proc, and with them the unlinked file).
    tmp = os.path.realpath(os.environ.get("TMPDIR", "/tmp"))
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        count += target.startswith(tmp + "/")
    return {"open": count}


@app.get("/admin")
async def admin(req: Request) -> str:
    mark(req)
    return ADMIN_SECRET


@app.get("/a/<name>")
async def a_name(req: Request, name: str) -> dict[str, str]:
    mark(req)
    return {"name": name}


@app.get("/files/<path:rest>")
async def files(req: Request, rest: str) -> dict[str, int]:
    mark(req)
    return {"segments": rest.count("/") + 1}


@app.get("/evil.com/")
async def hostlike(req: Request) -> str:
    # A first segment that reads as a host name: "//evil.com" must not redirect to it.
    return "a page whose path looks like a host"


@app.get("/whoami")
async def whoami(req: Request) -> dict[str, Any]:
    mark(req)
    client = req.client.host if req.client else None
    return {"client": client, "scheme": req.scheme, "host": req.host, "url": str(req.url)}


@app.get("/query")
async def query(req: Request) -> dict[str, list[list[str]]]:
    mark(req)
    return {"pairs": [[k, v] for k, v in req.query.multi_items()]}


@app.route("/echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def echo(req: Request) -> str:
    mark(req)
    return f"{req.method} reached the handler"


@app.post("/json", max_body_size="4MiB")
async def json_echo(req: Request) -> dict[str, str]:
    mark(req)
    value = await req.json()
    return {"type": type(value).__name__}


@app.post("/upload")
async def upload(req: Request) -> dict[str, int]:
    mark(req)
    return {"size": len(await req.body())}


@app.post("/stream-count")
async def stream_count(req: Request) -> dict[str, int]:
    probe_id = req.headers.get(PROBE_HEADER) or ""
    streamed[probe_id] = 0
    async for chunk in req.stream():
        streamed[probe_id] += len(chunk)
    return {"size": streamed[probe_id]}


def _describe(key: str, value: str | UploadFile) -> dict[str, Any]:
    if isinstance(value, str):
        return {"name": key[:100], "size": len(value)}
    return {
        "name": key,
        "filename": value.filename,
        "size": value.size,
        "in_memory": value.in_memory,
    }


@app.post("/form", max_body_size=UPLOAD_LIMIT)
async def form(req: Request) -> dict[str, Any]:
    mark(req)
    items = (await req.form()).multi_items()
    return {"fields": [_describe(key, value) for key, value in items], "count": len(items)}


@app.post("/upload-save")
async def upload_save(req: Request) -> dict[str, str | None]:
    mark(req)
    upload = (await req.form()).get("file")
    if isinstance(upload, str) or upload is None:
        abort(400, "no file")
    try:
        saved = await upload.save(ROOT / "uploads")
    except ValueError:
        return {"filename": upload.filename, "saved": None}
    return {"filename": upload.filename, "saved": os.path.relpath(str(saved), ROOT)}


@app.get("/cookie/<name>")
async def cookie(req: Request, name: str) -> dict[str, str | None]:
    return {"value": req.cookies.get(name)}


@app.get("/session/write")
async def session_write(req: Request) -> dict[str, bool]:
    req.session["user"] = req.query.get("user", "ada")
    return {"written": True}


@app.get("/session/read")
async def session_read(req: Request) -> dict[str, Any]:
    return {"session": dict(req.session)}


@app.get("/set-cookie")
async def set_cookie(req: Request) -> Response:
    mark(req)
    field = req.query.get("field", "value")
    text = req.query.get("text", "")
    response = Response(b"cookie set", media_type="text/plain")
    response.set_cookie(
        text if field == "name" else "c",
        text if field == "value" else "v",
        path=text if field == "path" else "/",
        domain=text if field == "domain" else None,
    )
    return response


@app.get("/header")
async def header(req: Request) -> Response:
    mark(req)
    response = Response(b"header set", media_type="text/plain")
    response.headers["x-echo"] = req.query.get("v", "")
    return response


#: The one origin allowed to read /cors with credentials (case 44).
CORS_ORIGIN = "https://app.example.com"


@app.route(
    "/cors",
    methods=["GET", "OPTIONS"],
    middleware=[CORS(origins=[CORS_ORIGIN], credentials=True)],
)
async def cors(req: Request) -> dict[str, str]:
    mark(req)
    return {"private": "data for logged-in users"}


@app.get("/next")
async def next_target(req: Request) -> Response:
    return safe_redirect(req.query.get("to"), fallback="/home")


@app.get("/go")
async def go(req: Request) -> Response:
    # Deliberately unchecked: the redirect's HTML body must still escape the target.
    return redirect(req.query.get("to", "/"))


@app.get("/page")
async def page(req: Request) -> str:
    return render_template(
        "page.html", name=req.query.get("name", ""), title=req.query.get("title", "")
    )


@app.get("/render")
async def render(req: Request) -> str:
    try:
        return render_template(req.query.get("name", ""))
    except jinja2.TemplateNotFound:
        abort(404, "no such template")


@app.get("/boom")
async def boom(req: Request) -> None:
    raise RuntimeError(f"secret detail {BOOM_DETAIL}")


@app.get("/hold")
async def hold(req: Request) -> StreamingResponse:
    """Stream a body that ends only once ``ROOT/release`` exists (cases 55 and 56)."""
    mark(req)
    marker = ROOT / "inflight" / (req.headers.get(PROBE_HEADER) or "anonymous")
    marker.parent.mkdir(exist_ok=True)
    marker.touch()

    async def body() -> AsyncIterator[bytes]:
        yield b"start\n"
        for _ in range(3000):  # at most a minute: a forgotten release ends the test, not CI
            if (ROOT / "release").exists():
                break
            await asyncio.sleep(0.02)
        for i in range(10):
            yield f"line {i}\n".encode()
        yield b"end\n"

    return StreamingResponse(body(), media_type="text/plain")

"""BODY_TIMEOUT (hostile case 15) and the settings the security defaults added to Config.

The body timeout is a deadline for the whole body: a client that trickles a byte at a time
never lets a per-read timer fire, so the tests trickle too. Requests are raw ASGI scopes
(a ``receive`` that stalls) and, once, raw bytes to real servers.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kettle import Config, ConfigError, Kettle, Request
from kettle.config import DEFAULTS
from tests.conftest import MakeApp
from tests.security.test_hosts import Answer, asgi_call
from tests.servers.serverutil import SERVERS, Server, clean_environment, free_port, serve

Reader = Callable[[Request], Awaitable[Any]]


async def read_body(req: Request) -> Any:
    return len(await req.body())


async def read_json(req: Request) -> Any:
    return await req.json()


async def read_form(req: Request) -> Any:
    return dict(await req.form())


async def read_stream(req: Request) -> Any:
    return sum([len(chunk) async for chunk in req.stream()])


PART_HEAD = b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
#: How each reader is fed: its content type, and the first piece of the body.
READERS: dict[str, tuple[Reader, bytes, bytes]] = {
    "body": (read_body, b"application/octet-stream", b"a"),
    "json": (read_json, b"application/json", b"["),
    "form": (read_form, b"application/x-www-form-urlencoded", b"a="),
    "multipart": (read_form, b"multipart/form-data; boundary=xyz", PART_HEAD),
    "stream": (read_stream, b"application/octet-stream", b"a"),
}


def uploading(make_app: MakeApp, reader: Reader, **config: Any) -> Kettle:
    app = make_app(**config)

    @app.post("/upload")
    async def upload(req: Request) -> dict[str, Any]:
        return {"got": await reader(req)}

    return app


Receive = Callable[[], Awaitable[dict[str, Any]]]


def stalling(first: bytes = b"a") -> Receive:
    """The first piece of the body, then nothing, ever."""
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 1:
            await asyncio.Event().wait()
        return {"type": "http.request", "body": first, "more_body": True}

    return receive


def trickling(first: bytes = b"a", pieces: int | None = None) -> Receive:
    """``first``, then a byte at a time, each after a short pause: forever, or until
    ``pieces`` pieces in all were sent.
    """
    sent = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        await asyncio.sleep(0.02)
        sent += 1
        more = pieces is None or sent < pieces
        return {"type": "http.request", "body": first if sent == 1 else b"a", "more_body": more}

    return receive


def post(app: Kettle, receive: Receive, kind: bytes) -> Answer:
    headers = [(b"content-type", kind), (b"content-length", b"1000")]
    call = asgi_call(app, "/upload", method="POST", headers=headers, receive=receive)
    return asyncio.run(call)


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("receive", [stalling, trickling], ids=["stalled", "trickled"])
def test_a_slow_body_gets_a_408_that_closes(
    make_app: MakeApp, read: str, receive: Callable[[bytes], Receive]
) -> None:
    reader, kind, first = READERS[read]
    answer = post(uploading(make_app, reader, BODY_TIMEOUT=0.2), receive(first), kind)
    assert answer.status == 408
    assert answer.header("connection") == "close"
    assert answer.json()["error"]["status"] == 408
    assert answer.header("x-content-type-options") == "nosniff"


def test_a_body_that_arrives_in_time_is_read(make_app: MakeApp) -> None:
    app = uploading(make_app, read_body, BODY_TIMEOUT=30)
    answer = post(app, trickling(pieces=5), b"application/octet-stream")
    assert (answer.status, answer.json()) == (200, {"got": 5})


def test_no_body_timeout_waits_for_the_body(make_app: MakeApp) -> None:
    app = uploading(make_app, read_body, BODY_TIMEOUT=None)
    answer = post(app, trickling(pieces=5), b"application/octet-stream")
    assert (answer.status, answer.json()) == (200, {"got": 5})
    assert app.config["BODY_TIMEOUT"] is None


@pytest.mark.parametrize("value", ["abc", -1, 0, "0", True, float("inf"), float("nan"), [5]])
def test_a_bad_body_timeout_stops_finalize(make_app: MakeApp, value: Any) -> None:
    app = uploading(make_app, read_body, BODY_TIMEOUT=value)
    with pytest.raises(ConfigError, match="BODY_TIMEOUT"):
        app.finalize()


# --- over real servers ----------------------------------------------------------------------

SLOW_APP = """
from kettle import Kettle

app = Kettle(__name__, config={"SECRET_KEY": "x" * 32, "BODY_TIMEOUT": 0.5})


@app.get("/")
async def index(req):
    return "ok"


@app.post("/upload")
async def upload(req):
    return {"size": len(await req.body())}
"""


def slow_app_command(name: str, port: int) -> list[str]:
    target = "slow_body_app:app"
    address = ("--host", "127.0.0.1", "--port", str(port))
    if name == "uvicorn":
        return [sys.executable, "-m", "uvicorn", target, *address, "--log-level", "warning"]
    if name == "granian":
        return [
            *(sys.executable, "-m", "granian", "--interface", "asgi", *address),
            *("--workers", "1", "--no-ws", "--http", "1", "--log-level", "warning", target),
        ]
    bind = f"127.0.0.1:{port}"
    return [sys.executable, "-m", "hypercorn", "--bind", bind, "--log-level", "warning", target]


@pytest.fixture(scope="module", params=SERVERS)
def slow_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    name: str = request.param
    workdir: Path = tmp_path_factory.mktemp(f"slow-{name}")
    (workdir / "slow_body_app.py").write_text(SLOW_APP)
    port = free_port()
    with serve(
        name,
        slow_app_command(name, port),
        port=port,
        cwd=workdir,
        env=clean_environment(workdir),
        log_path=workdir / "server.log",
    ) as server:
        yield server


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """The head and body of one response, read by its Content-Length.

    Not to EOF: granian sends the 408 but now and then keeps the connection open,
    waiting for the rest of the body, despite ``Connection: close``.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, body
        body += chunk
    return head, body


def test_a_trickled_body_over_a_real_server_gets_a_408(slow_server: Server) -> None:
    head = (
        b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", slow_server.port), timeout=30) as sock:
        sock.sendall(head + b"x")
        response_head, body = read_response(sock)
    status_line, *lines = response_head.split(b"\r\n")
    assert status_line.split(b" ")[1] == b"408", response_head
    assert b"connection: close" in [line.lower() for line in lines]
    assert b"did not arrive" in body
    with socket.create_connection(("127.0.0.1", slow_server.port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert read_response(sock)[1] == b"ok"


# --- the settings -----------------------------------------------------------------------------

NEW_DEFAULTS = {
    "BODY_TIMEOUT": 30.0,
    "SECURITY_HEADERS": True,
    "CSRF_PROTECTION": True,
    "CSRF_TRUSTED_ORIGINS": (),
    "CSRF_EXEMPT": (),
    "CSRF_TOKENS": False,
    "TRUSTED_HOSTS": None,
    "TRUSTED_PROXIES": (),
    "PROXY_HOPS": 0,
}


@pytest.mark.parametrize(("key", "value"), NEW_DEFAULTS.items())
def test_new_defaults(key: str, value: Any) -> None:
    assert DEFAULTS[key] == value
    config = Config()
    config.validate()
    assert config[key] == value


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("BODY_TIMEOUT", 5, 5.0),
        ("BODY_TIMEOUT", "2.5", 2.5),
        ("BODY_TIMEOUT", " 10s ", 10.0),
        ("BODY_TIMEOUT", "", None),
        ("BODY_TIMEOUT", None, None),
        ("SECURITY_HEADERS", "off", False),
        ("CSRF_PROTECTION", "0", False),
        ("CSRF_TOKENS", "yes", True),
        (
            "CSRF_TRUSTED_ORIGINS",
            "https://a.example, https://b.example",
            ("https://a.example", "https://b.example"),
        ),
        ("CSRF_TRUSTED_ORIGINS", ["https://a.example"], ("https://a.example",)),
        ("CSRF_EXEMPT", '["/hooks/<name>", "/ping"]', ("/hooks/<name>", "/ping")),
        ("CSRF_EXEMPT", " /a ,, /b ", ("/a", "/b")),
        ("TRUSTED_HOSTS", None, None),
        ("TRUSTED_HOSTS", "example.com, .example.org", ("example.com", ".example.org")),
        ("TRUSTED_HOSTS", ["*"], ("*",)),
        ("TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1", ("10.0.0.0/8", "127.0.0.1")),
        ("TRUSTED_PROXIES", ("::1",), ("::1",)),
        ("PROXY_HOPS", "2", 2),
        ("PROXY_HOPS", 0, 0),
    ],
)
def test_coercion(key: str, given: Any, expected: Any) -> None:
    config = Config(**{key: given})
    config.validate()
    assert config[key] == expected


@pytest.mark.parametrize(
    ("key", "given"),
    [
        ("BODY_TIMEOUT", "soon"),
        ("BODY_TIMEOUT", -0.5),
        ("SECURITY_HEADERS", "maybe"),
        ("CSRF_PROTECTION", 2),
        ("CSRF_TRUSTED_ORIGINS", [1, 2]),
        ("CSRF_EXEMPT", {"/a": 1}),
        ("TRUSTED_HOSTS", 42),
        ("TRUSTED_PROXIES", None),
        ("PROXY_HOPS", -1),
        ("PROXY_HOPS", 1.5),
    ],
)
def test_bad_values_name_the_key(key: str, given: Any) -> None:
    config = Config(**{key: given})
    with pytest.raises(ConfigError, match=key):
        config.validate()


@pytest.mark.parametrize(
    ("var", "raw", "key", "expected"),
    [
        ("KETTLE_BODY_TIMEOUT", "7", "BODY_TIMEOUT", 7.0),
        ("KETTLE_SECURITY_HEADERS", "0", "SECURITY_HEADERS", False),
        ("KETTLE_CSRF_EXEMPT", "/a, /b", "CSRF_EXEMPT", ("/a", "/b")),
        ("KETTLE_TRUSTED_HOSTS", "example.com", "TRUSTED_HOSTS", ("example.com",)),
        ("KETTLE_TRUSTED_PROXIES", "*", "TRUSTED_PROXIES", ("*",)),
        ("KETTLE_PROXY_HOPS", "1", "PROXY_HOPS", 1),
    ],
)
def test_from_env(var: str, raw: str, key: str, expected: Any) -> None:
    config = Config()
    config.from_env(environ={var: raw})
    assert config[key] == expected


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "nan"])
def test_a_bad_body_timeout_in_the_environment_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="KETTLE_BODY_TIMEOUT"):
        Config().from_env(environ={"KETTLE_BODY_TIMEOUT": raw})

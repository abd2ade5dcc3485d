"""kettle's RSGI adapter on a real granian, next to the ASGI adapter on the same granian.

``wire_app:app`` is served twice for the module, by granian over ASGI and over RSGI (the
same app object, WebSockets on). Every kind of answer must leave both with the same bytes
(all but the ``Date`` header); then what only RSGI does differently is tested on its own:
the lazy scope, lifespan through ``__rsgi_init__``/``__rsgi_del__``, body chunks with their
limits and deadline, streams and disconnects, proxies. The behaviour tests every server
shares are in test_asgi_servers.py, parametrized over ``granian-rsgi`` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from .serverutil import HERE, Server, clean_environment, free_port, serve
from .wire_app import BODY_LIMIT, SHUTDOWN_MARK, STARTUP_MARK

APP = "wire_app:app"
FILE_BYTES = bytes(range(256)) * 1024  # 256 KiB: several chunks of a file stream


def granian_command(interface: str, port: int, *options: str) -> list[str]:
    """granian serving :data:`APP` over ``interface`` on ``port`` (WebSockets on)."""
    return [
        *(sys.executable, "-m", "granian", "--interface", interface, "--host", "127.0.0.1"),
        *("--port", str(port), "--workers", "1", "--http", "1", *options),
        *("--log-level", "warning", "--no-access-log", APP),
    ]


@contextlib.contextmanager
def granian(
    interface: str,
    workdir: Path,
    env: dict[str, str] | None = None,
    name: str | None = None,
    options: tuple[str, ...] = (),
) -> Iterator[Server]:
    """:data:`APP` on granian over ``interface`` for the duration of the block.

    ``/file`` sends ``WIRE_FILE`` from ``env``, else a file of its own in ``workdir``.
    """
    port = free_port()
    environment = clean_environment(HERE)
    environment.update(env or {})
    if "WIRE_FILE" not in environment:
        environment["WIRE_FILE"] = str(shared_file(workdir))
    name = name or f"granian-{interface}"
    with serve(
        name,
        granian_command(interface, port, *options),
        port=port,
        cwd=HERE,
        env=environment,
        log_path=workdir / f"{name}.log",
        ready_path="/plaintext",
    ) as server:
        yield server


def shared_file(folder: Path) -> Path:
    """The file ``/file`` sends, written into ``folder``."""
    path = folder / "file.bin"
    path.write_bytes(FILE_BYTES)
    return path


@pytest.fixture(scope="module")
def wire_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file for both servers: its ETag and Last-Modified must be the same."""
    return shared_file(tmp_path_factory.mktemp("wire-file"))


@pytest.fixture(scope="module")
def asgi(tmp_path_factory: pytest.TempPathFactory, wire_file: Path) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("wire-asgi")
    with granian("asgi", workdir, {"WIRE_FILE": str(wire_file)}) as server:
        yield server


@pytest.fixture(scope="module")
def rsgi(tmp_path_factory: pytest.TempPathFactory, wire_file: Path) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("wire-rsgi")
    with granian("rsgi", workdir, {"WIRE_FILE": str(wire_file)}) as server:
        yield server


@pytest.fixture(scope="module")
def client(rsgi: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rsgi.base_url, timeout=30.0) as http:
        yield http


def exchange(server: Server, data: bytes) -> bytes:
    """Send ``data`` as is and read everything until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def request(
    method: str, target: str, *headers: str, body: bytes = b"", host: str = "127.0.0.1"
) -> bytes:
    """A request written byte for byte, asking the server to close the connection after."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


_REQUEST_ID = re.compile(rb"(x-request-id: |\"request_id\":\")[0-9a-f]+")


def without_date(response: bytes) -> bytes:
    """The response without what changes per request: the ``Date`` header, and the random
    request id of a 500.
    """
    head, sep, body = response.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"date:")]
    return _REQUEST_ID.sub(rb"\1<id>", b"\r\n".join(lines) + sep + body)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


# --- the same bytes over both protocols ---------------------------------------------------

SAME_BYTES = [
    request("GET", "/plaintext"),
    request("HEAD", "/plaintext"),
    request("GET", "/json"),
    request("HEAD", "/json"),
    request("GET", "/users/7"),
    request("GET", "/html"),
    request("GET", "/list"),
    request("GET", "/empty"),
    request("GET", "/cookies"),
    request("GET", "/go"),
    request("GET", "/boom"),
    request("GET", "/no/such/page"),
    request("DELETE", "/plaintext"),
    request("OPTIONS", "/plaintext"),
    request("GET", "/plaintext/"),
    request("GET", "/stream"),
    request("HEAD", "/stream"),
    request("GET", "/file"),
    request("HEAD", "/file"),
    request("GET", "/file", "Range: bytes=100-299"),
    request("GET", "/file", "Range: bytes=999999-"),
    request("GET", "/download"),
    request("GET", "/own-headers"),
    request("GET", "/utf8-header"),
    request("GET", "/asgi/child"),
    request("POST", "/asgi/child", "Content-Length: 5", body=b"hello"),
    request("POST", "/upload", "Content-Length: 5", body=b"hello"),
    request("POST", "/upload", "Content-Length: 99999999"),
    request("POST", "/upload", "Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\r\n"),
    request("GET", "/json", host="evil.test"),
    request("GET", "/json", host="example.test"),
    request("GET", "/json", host="EXAMPLE.test:8080"),
    request("GET", "/json", "Host: example.test"),
    request("GET", "/a%ff"),
    request("GET", "/users/%ff"),
    request("GET", "/users/" + "9" * 20_000),
    b"GET /json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
    request("GET", "/json", *(f"X-Filler-{i}: {i}" for i in range(120))),
    request("GET", "/json", "X-Big: " + "b" * 70_000),
]


def _request_id(data: bytes) -> str:
    head = data.partition(b"\r\n\r\n")[0].replace(b"\r\nConnection: close", b"")
    return head.replace(b"\r\nHost: 127.0.0.1", b"").decode()[:60].replace("\r\n", " | ")


@pytest.mark.parametrize("data", SAME_BYTES, ids=_request_id)
def test_same_bytes_as_asgi(asgi: Server, rsgi: Server, data: bytes) -> None:
    over_asgi = without_date(exchange(asgi, data))
    over_rsgi = without_date(exchange(rsgi, data))
    assert over_rsgi == over_asgi


def test_not_modified_is_the_same(asgi: Server, rsgi: Server, client: httpx.Client) -> None:
    etag = client.get("/file").headers["etag"]
    data = request("GET", "/file", f"If-None-Match: {etag}")
    over_rsgi = exchange(rsgi, data)
    assert status_of(over_rsgi) == 304
    assert without_date(over_rsgi) == without_date(exchange(asgi, data))


def test_websocket_upgrade_is_refused_the_same(asgi: Server, rsgi: Server) -> None:
    data = request(
        "GET",
        "/json",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    )
    over_rsgi = exchange(rsgi, data)
    assert status_of(over_rsgi) == 403
    assert without_date(over_rsgi) == without_date(exchange(asgi, data))


def test_latin1_header_value_goes_out_as_utf8(rsgi: Server) -> None:
    # granian takes str headers and writes UTF-8: no str stands for the lone latin-1 byte.
    response = exchange(rsgi, request("GET", "/latin1-header"))
    assert status_of(response) == 200
    assert b"\r\nx-name: caf\xc3\xa9\r\n" in response


def test_a_header_granian_cannot_send_is_left_out(rsgi: Server) -> None:
    # granian's ASGI interface answers 500 for a control character in a header value; its
    # RSGI interface leaves the header out and sends the rest.
    response = exchange(rsgi, request("GET", "/bad-header"))
    assert status_of(response) == 200
    assert b"x-control" not in response
    assert response.endswith(b"\r\n\r\nok")


# --- the request as kettle sees it --------------------------------------------------------


def test_request_scope(rsgi: Server, client: httpx.Client) -> None:
    response = client.get("/whoami", params={"q": "ä b"})
    assert response.json() == {
        "client": "127.0.0.1",
        "scheme": "http",
        "host": f"127.0.0.1:{rsgi.port}",
        "url": f"{rsgi.base_url}/whoami?q=%C3%A4+b",
        "http_version": "1.1",
        "type": "RSGIRequest",
    }


def test_http_10_version(rsgi: Server) -> None:
    response = exchange(rsgi, b"GET /whoami HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    body = response.partition(b"\r\n\r\n")[2]
    assert msgspec.json.decode(body)["http_version"] == "1.0"


def test_http_10_without_host_is_served(rsgi: Server) -> None:
    # As uvicorn does. (granian's ASGI interface makes up an empty Host, which kettle refuses.)
    response = exchange(rsgi, b"GET /json HTTP/1.0\r\n\r\n")
    assert status_of(response) == 200
    assert response.endswith(b'{"message":"Hello, World!"}')


def test_request_headers_keep_repeats_and_order(client: httpx.Client) -> None:
    response = client.get(
        "/headers", headers=[("X-Multi", "a"), ("X-Case", "Mixed"), ("X-Multi", "b")]
    )
    assert response.json()["x-multi"] == ["a", "b"]
    assert response.json()["x-case"] == ["Mixed"]


def test_header_values_that_are_not_ascii_hide_a_host(rsgi: Server) -> None:
    # granian passes on only visible-ASCII values: a Host it dropped is refused, not missed.
    data = b"GET /json HTTP/1.1\r\nHost: caf\xc3\xa9.test\r\nConnection: close\r\n\r\n"
    response = exchange(rsgi, data)
    assert status_of(response) == 400
    assert b"invalid Host header" in response


def test_session_round_trip(client: httpx.Client) -> None:
    assert client.get("/session/set", params={"value": "kept"}).json() == {"set": "kept"}
    assert "session" in client.cookies
    assert client.get("/session/get").json() == {"value": "kept"}


def test_lifespan_startup_ran_on_the_serving_loop(rsgi: Server, client: httpx.Client) -> None:
    assert STARTUP_MARK in rsgi.log()
    assert client.get("/loop").json() == {"same": True}


# --- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_large_body(client: httpx.Client, chunked: bool) -> None:
    payload = bytes(range(251)) * (5 * 1024 * 1024 // 251)

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    response = client.post("/upload", content=pieces() if chunked else payload)
    assert response.status_code == 200
    assert response.json() == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_the_limit_is_413(client: httpx.Client, chunked: bool) -> None:
    payload = b"x" * (BODY_LIMIT + 1)

    def pieces() -> Iterator[bytes]:
        yield payload[: BODY_LIMIT // 2]
        yield payload[BODY_LIMIT // 2 :]

    response = client.post(
        "/upload", content=pieces() if chunked else payload, headers={"connection": "close"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["status"] == 413


def test_multipart_upload(client: httpx.Client) -> None:
    response = client.post(
        "/form", data={"name": "kettle"}, files={"file": ("a.bin", b"\x00" * 300_000)}
    )
    assert response.json() == {"name": "kettle", "file": "a.bin", "size": 300_000}


def test_a_body_that_stalls_is_408(rsgi: Server) -> None:
    with socket.create_connection(("127.0.0.1", rsgi.port), timeout=30) as sock:
        sock.sendall(request("POST", "/upload", "Content-Length: 100", body=b"x" * 10))
        # Nothing more is sent: kettle's BODY_TIMEOUT, not the client, ends the wait.
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    assert status_of(received) == 408


def test_a_body_cut_short_is_a_disconnect_not_a_short_body(
    rsgi: Server, client: httpx.Client
) -> None:
    probe = uuid.uuid4().hex
    with socket.create_connection(("127.0.0.1", rsgi.port), timeout=30) as sock:
        data = request("POST", f"/upload/watch/{probe}", "Content-Length: 100000")
        sock.sendall(data + b"x" * 1000)
        time.sleep(0.2)  # let the handler start reading before the client goes
    deadline = time.monotonic() + 30
    while (outcome := client.get(f"/upload/outcome/{probe}").json()["outcome"]) is None:
        assert time.monotonic() < deadline, "the handler never finished"
        time.sleep(0.05)
    assert outcome == "disconnect"


# --- streams ------------------------------------------------------------------------------------


def test_an_idle_stream_is_closed_when_the_client_goes_away(
    rsgi: Server, client: httpx.Client
) -> None:
    before = client.get("/idle/closed").json()["closed"]
    with socket.create_connection(("127.0.0.1", rsgi.port), timeout=30) as sock:
        sock.sendall(b"GET /idle HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b"first" not in received:
            received += sock.recv(65536)
    # The stream waits forever without writing: only the disconnect watch can end it.
    deadline = time.monotonic() + 30
    while client.get("/idle/closed").json()["closed"] == before:
        assert time.monotonic() < deadline, "the idle stream outlived its client"
        time.sleep(0.05)


def test_file_is_streamed_whole(client: httpx.Client) -> None:
    response = client.get("/file")
    assert response.content == FILE_BYTES
    assert response.headers["content-length"] == str(len(FILE_BYTES))
    assert response.headers["accept-ranges"] == "bytes"


# --- lifespan ------------------------------------------------------------------------------------


def test_shutdown_hook_runs_when_granian_stops(tmp_path: Path) -> None:
    with granian("rsgi", tmp_path, name="granian-rsgi-stop") as server:
        assert SHUTDOWN_MARK not in server.log()
    assert server.stopped_cleanly
    assert SHUTDOWN_MARK in server.log(), server.log()


def test_failed_startup_stops_the_worker(tmp_path: Path) -> None:
    failing = granian("rsgi", tmp_path, {"WIRE_FAIL_STARTUP": "1"}, name="granian-rsgi-fail")
    with pytest.raises(RuntimeError) as failed, failing:
        pass
    message = str(failed.value)
    assert "exited with status" in message
    assert "startup failed" in message
    assert "startup refused on purpose" in message


# --- behind a trusted proxy --------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"KETTLE_TRUSTED_PROXIES": "127.0.0.1"}
    workdir = tmp_path_factory.mktemp("wire-proxied")
    with granian("rsgi", workdir, env, name="granian-rsgi-proxied") as server:
        yield server


def test_trusted_proxy_headers_are_believed(proxied: Server) -> None:
    forwarded = {
        "x-forwarded-for": "203.0.113.9",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "example.test",
    }
    response = httpx.get(f"{proxied.base_url}/whoami", headers=forwarded, timeout=30)
    assert response.status_code == 200
    found = response.json()
    assert (found["client"], found["scheme"], found["host"]) == (
        "203.0.113.9",
        "https",
        "example.test",
    )
    assert "max-age" in response.headers["strict-transport-security"]  # https: the HSTS block


def test_a_forwarded_host_is_checked(proxied: Server) -> None:
    response = httpx.get(
        f"{proxied.base_url}/json", headers={"x-forwarded-host": "evil.test"}, timeout=30
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == 400


@pytest.mark.parametrize("tasks", ["asyncio", "rust"])
@pytest.mark.parametrize("interface", ["asgi", "rsgi"])
def test_interleaved_requests_each_find_their_own(
    interface: str, tasks: str, tmp_path: Path
) -> None:
    # granian's Rust task implementation (Python 3.11) runs every request under one shared
    # task object: url_for() and the other helpers must still find each request's own.
    count = 30
    name, options = f"granian-{interface}-{tasks}", ("--task-impl", tasks)
    with granian(interface, tmp_path, name=name, options=options) as server:

        async def fetch_all() -> list[str]:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                pending = (client.get(f"/current/{n}") for n in range(count))
                return [response.text for response in await asyncio.gather(*pending)]

        texts = asyncio.run(fetch_all())
    assert texts == [f"/current/{n}" for n in range(count)]


def test_no_unexpected_errors_in_the_log(rsgi: Server) -> None:
    # Only /boom's own error; no stream, body or lifespan step left a traceback behind.
    log = rsgi.log()
    assert log.count("Traceback") == log.count("RuntimeError: boom"), log

"""Fixtures of the hostile-input suite: ``hostile_app`` on real servers, and raw HTTP.

One uvicorn and one granian serve ``hostile_app:asgi`` for the whole session (started on
first use, each on a free loopback port with a root folder of its own); the ``server``
fixture runs a test once per server and checks afterwards that the server still answers.
Requests are written byte for byte: no client tidies a hostile request up before sending.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers.serverutil import Server, clean_environment, free_port, serve

from .hostile_app import PROBE_HEADER, prepare_root

HERE = Path(__file__).resolve().parent
#: "granian-rsgi" is the same app object served over granian's RSGI (see command()).
SERVERS = ("uvicorn", "granian", "granian-rsgi")
APP = "hostile_app:asgi"
#: A multipart Content-Type header line, to finish with the boundary.
MULTIPART_TYPE = "Content-Type: multipart/form-data; boundary="


def command(name: str, port: int, *extra: str) -> list[str]:
    """The command line serving :data:`APP` with server ``name`` on ``port``."""
    python = sys.executable
    if name == "uvicorn":
        # --no-proxy-headers: uvicorn believes X-Forwarded-* from 127.0.0.1 by default,
        # which would hide what kettle does with them (case 40); `kettle run` passes it too.
        return [
            *(python, "-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", str(port)),
            *("--http", "httptools", "--loop", "uvloop", "--lifespan", "on"),
            *("--no-proxy-headers", "--log-level", "warning", "--no-access-log", *extra),
        ]
    if name == "granian":
        return [
            *(python, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1"),
            *("--port", str(port), "--workers", "1", "--no-ws", "--http", "1"),
            *("--log-level", "warning", "--no-access-log", *extra, APP),
        ]
    if name == "granian-rsgi":
        # The same app over RSGI: hostile_rsgi notes probes as hostile_app:asgi does.
        return [
            *(python, "-m", "granian", "--interface", "rsgi", "--host", "127.0.0.1"),
            *("--port", str(port), "--workers", "1", "--no-ws", "--http", "1"),
            *("--log-level", "warning", "--no-access-log", *extra, "hostile_rsgi:rsgi"),
        ]
    if name == "hypercorn":
        return [
            *(python, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}"),
            *("--log-level", "warning", *extra, APP),
        ]
    raise ValueError(f"unknown server {name!r}")


@dataclass
class Hostile:
    """A server serving ``hostile_app`` from ``root``."""

    server: Server
    root: Path

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def port(self) -> int:
        return self.server.port

    def log(self) -> str:
        """What the server and the app wrote so far."""
        return self.server.log()


@contextlib.contextmanager
def hostile_server(
    name: str, workdir: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[Hostile]:
    """Serve ``hostile_app`` with ``name`` (and ``extra`` options) for the block."""
    root = workdir / "root"
    root.mkdir(parents=True, exist_ok=True)
    prepare_root(root)
    environment = clean_environment(HERE)
    environment.update(HOSTILE_ROOT=str(root), TMPDIR=str(root / "tmp"), **(env or {}))
    port = free_port()
    with serve(
        name,
        command(name, port, *extra),
        port=port,
        cwd=HERE,
        env=environment,
        log_path=workdir / f"{name}.log",
        ready_path="/ping",
    ) as server:
        yield Hostile(server, root)


class ServerPool:
    """Servers started on first use and kept for the session."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._stack = contextlib.ExitStack()
        self._running: dict[str, Hostile] = {}

    def get(self, name: str) -> Hostile:
        running = self._running.get(name)
        if running is None or running.server.process.poll() is not None:
            workdir = self._factory.mktemp(f"hostile-{name}")
            running = self._stack.enter_context(hostile_server(name, workdir))
            self._running[name] = running
        return running

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    pool = ServerPool(tmp_path_factory)
    yield pool
    pool.close()


def assert_still_serving(target: Hostile) -> None:
    """Whatever a test sent, the server answers the next request normally."""
    assert target.server.process.poll() is None, f"{target.name} died:\n{target.log()}"
    reply = send(target, "/ping")
    assert (reply.status, reply.body) == (200, b"pong"), reply


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, server_pool: ServerPool) -> Iterator[Hostile]:
    """``hostile_app`` on each real server in turn; it must survive every test."""
    target = server_pool.get(request.param)
    yield target
    assert_still_serving(target)


# --- raw HTTP --------------------------------------------------------------------------


@dataclass
class Reply:
    """A response read off a socket; ``status`` 0 when the server sent none."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The last value of header ``name``, if any."""
        values = self.header_list(name)
        return values[-1] if values else None

    def header_list(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        return [value for key, value in self.headers if key == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def build(
    method: str,
    target: str,
    headers: tuple[str, ...] = (),
    body: bytes = b"",
    *,
    host: str | None = "127.0.0.1",
    close: bool = True,
) -> bytes:
    """A request exactly as written: request line, ``Host`` (unless ``None``), headers."""
    lines = [f"{method} {target} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    if close:
        lines.append("Connection: close")
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _parse_head(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    status_line, *lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise AssertionError(f"not an HTTP response: {head[:200]!r}")
    headers = []
    for line in lines:
        key, _, value = line.partition(":")
        headers.append((key.strip().lower(), value.strip()))
    return int(parts[1]), headers


class _Reader:
    """Reads one response at a time from a socket, without waiting for EOF if it can."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.eof = False

    def _more(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        self.eof = not chunk
        self.buffer += chunk
        return bool(chunk)

    def _until(self, marker: bytes) -> bytes | None:
        while marker not in self.buffer:
            if not self._more():
                return None
        data, _, self.buffer = self.buffer.partition(marker)
        return data

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size and self._more():
            pass
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def reply(self, method: str = "GET") -> Reply:
        while True:
            head = self._until(b"\r\n\r\n")
            if head is None:
                return Reply(0, body=self.buffer)
            status, headers = _parse_head(head)
            if status >= 200 or status == 101:
                break
        found = {key: value for key, value in headers}
        if method == "HEAD" or status in (204, 304):
            return Reply(status, headers)
        if "chunked" in found.get("transfer-encoding", "").lower():
            body = b""
            while (size_line := self._until(b"\r\n")) is not None:
                size = int(size_line.split(b";")[0], 16)
                body += self._exactly(size)
                self._until(b"\r\n")
                if size == 0:
                    break
            return Reply(status, headers, body)
        if "content-length" in found:
            return Reply(status, headers, self._exactly(int(found["content-length"])))
        while self._more():
            pass
        body, self.buffer = self.buffer, b""
        return Reply(status, headers, body)


def connect(target: Hostile, timeout: float = 30.0) -> socket.socket:
    """A new connection to ``target``."""
    return socket.create_connection(("127.0.0.1", target.port), timeout=timeout)


def read_reply(sock: socket.socket, method: str = "GET") -> Reply:
    """Read one response from ``sock`` (interim 1xx responses skipped)."""
    return _Reader(sock).reply(method)


def exchange(target: Hostile, data: bytes, timeout: float = 30.0) -> Reply:
    """Send ``data`` as is, then read one response.

    A server may refuse a request before it has all of it and close the connection; the
    rest of the send is then dropped and the response read all the same.
    """
    with connect(target, timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        return read_reply(sock, data.split(b" ", 1)[0].decode("latin-1"))


def send(
    target: Hostile,
    path: str,
    method: str = "GET",
    headers: tuple[str, ...] = (),
    body: bytes = b"",
    *,
    probe: str | None = None,
    host: str | None = "127.0.0.1",
) -> Reply:
    """One request, written exactly as given; ``probe`` tags it (see :func:`reached`)."""
    if probe is not None:
        headers = (f"{PROBE_HEADER}: {probe}", *headers)
    if body and not any(
        h.lower().startswith(("content-length:", "transfer-encoding:")) for h in headers
    ):
        headers = (*headers, f"Content-Length: {len(body)}")
    return exchange(target, build(method, path, headers, body, host=host))


def new_probe() -> str:
    """A fresh probe id to tag one request with."""
    return uuid.uuid4().hex


def reached(target: Hostile, probe: str) -> dict[str, bool]:
    """Whether the request tagged ``probe`` got to the app at all, and to a handler."""
    found = get_json(target, f"/probe/{probe}")
    return {"app": found["app"], "handler": found["handler"]}


def get_json(target: Hostile, path: str) -> Any:
    """``GET path`` and its JSON body (the request must succeed)."""
    reply = send(target, path)
    assert reply.status == 200, reply
    return reply.json()


# --- raw ASGI scopes ---------------------------------------------------------------------


@dataclass
class ScopeReply:
    """What an app sent back for one raw scope."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


async def call_scope(
    app: Any,
    path: str,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    raw_path: bytes | None = None,
    client: tuple[str, int] = ("127.0.0.1", 1234),
    body: bytes = b"",
) -> ScopeReply:
    """Send one request as a raw ASGI scope, for what a server would not pass on as is.

    Like ``tests.conftest.call_raw``, with a ``raw_path`` of its own (what the client
    sent, before the server decoded it), a peer address, and the response headers.
    """
    messages: list[dict[str, Any]] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send_message(message: dict[str, Any]) -> None:
        messages.append(message)

    if headers is None:
        headers = [(b"host", b"testserver")]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape") if raw_path is None else raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": client,
        "server": ("testserver", 80),
    }
    await app(scope, receive, send_message)
    start = messages[0]
    return ScopeReply(
        start["status"], list(start["headers"]), b"".join(m.get("body", b"") for m in messages[1:])
    )

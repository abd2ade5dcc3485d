"""The clients of bench/soak.py: normal keep-alive traffic and three kinds of slow client.

Raw sockets on the loopback interface, nothing beyond the standard library, so the soak
needs no load tool. Every client is one asyncio task; cancelling it closes its socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
#: How long a normal request may take before it counts as a timeout error.
REQUEST_TIMEOUT = 10.0
#: A never-reading client's receive buffer: small, so the server really has to hold back.
NEVER_READ_RCVBUF = 16 * 1024

_UPLOAD = b"u" * 1024
NORMAL_REQUESTS = (
    b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Length: 1024\r\n\r\n" + _UPLOAD,
)
#: Mostly small GETs, some POSTs: plaintext, json, upload.
NORMAL_WEIGHTS = (45, 45, 10)
#: A request head that never ends: one more byte of an endless header value each time.
SLOW_HEAD = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
SLOW_BODY_SIZE = 1_000_000
SLOW_BODY_HEAD = (
    b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Length: %d\r\n\r\n" % SLOW_BODY_SIZE
)
STREAM_REQUEST = b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
_ENDLESS_HEAD = SLOW_HEAD + b"a" * 4096
_SLOW_BODY = b"b" * SLOW_BODY_SIZE
#: Kernel TCP states (TCP_INFO) of a connection the peer has closed (FIN) or reset.
_PEER_GONE = (7, 8)  # TCP_CLOSE, TCP_CLOSE_WAIT


@dataclass
class NormalStats:
    """What normal traffic saw, per phase: latencies (seconds, with when), errors."""

    phase: str = "warmup"
    started: float = field(default_factory=time.perf_counter)
    latencies: dict[str, array[float]] = field(default_factory=dict)
    at: dict[str, array[float]] = field(default_factory=dict)
    errors: dict[str, Counter[str]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    #: Requests sent more than REQUEST_TIMEOUT behind their schedule: the schedule restarted.
    schedule_resets: int = 0
    window: list[float] = field(default_factory=list)

    def record(self, phase: str, start: float, latency: float) -> None:
        self.latencies.setdefault(phase, array("d")).append(latency)
        self.at.setdefault(phase, array("d")).append(start - self.started)
        self.window.append(latency)

    def error(self, phase: str, kind: str) -> None:
        self.errors.setdefault(phase, Counter())[kind] += 1


@dataclass
class SlowStats:
    """One kind of slow client: connections opened, how and when the server ended them."""

    opened: int = 0
    #: Seconds from connect to the server's answer or close, for each connection it ended.
    lifetimes: list[float] = field(default_factory=list)
    #: How the server ended them: "HTTP 408", "closed", "reset", ...
    endings: Counter[str] = field(default_factory=Counter)
    connect_errors: Counter[str] = field(default_factory=Counter)
    #: Connections open now, by their connect time.
    open_since: dict[int, float] = field(default_factory=dict)

    @property
    def closed_by_server(self) -> int:
        return len(self.lifetimes) + self.endings["server closed"]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response off a keep-alive connection: its status, and whether it closes."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    close = b"\r\nconnection: close" in lower
    marker = lower.find(b"\r\ncontent-length:")
    if marker >= 0:
        end = lower.index(b"\r\n", marker + 2)
        await reader.readexactly(int(lower[marker + 17 : end]))
    elif b"\r\ntransfer-encoding: chunked" in lower:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    else:
        close = True
        await reader.read()
    return status, close


_REQUEST_ERRORS = (
    OSError,
    TimeoutError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
    ValueError,
)


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, asyncio.IncompleteReadError | ConnectionResetError | BrokenPipeError):
        return "reset or early close"
    return type(exc).__name__


async def _next_start(stats: NormalStats, state: list[float], interval: float) -> float:
    """Wait for the next request's turn; return when it was due."""
    now = time.perf_counter()
    if not interval:
        return now
    due = state[0]
    if due > now:
        await asyncio.sleep(due - now)
    elif now - due > REQUEST_TIMEOUT:
        stats.schedule_resets += 1
        due = now
    state[0] = due + interval
    return due


async def normal_client(
    port: int, stats: NormalStats, interval: float, per_connection: int, seed: int
) -> None:
    """Keep-alive requests forever: one every ``interval`` seconds (0: back to back), on a
    new connection after every ``per_connection`` requests (0: one connection for good).

    Latency counts from when the request was due, not when it went out, so a server stall
    shows in every request it delayed (no coordinated omission), connects included.
    """
    rng = random.Random(seed)
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    schedule = [time.perf_counter() + rng.random() * interval]
    served = 0
    try:
        while True:
            start = await _next_start(stats, schedule, interval)
            phase = stats.phase
            request = rng.choices(NORMAL_REQUESTS, NORMAL_WEIGHTS)[0]
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    if writer is None:
                        reader, writer = await asyncio.open_connection(HOST, port)
                    assert reader is not None
                    writer.write(request)
                    status, close = await _read_response(reader)
            except _REQUEST_ERRORS as exc:
                stats.error(phase, _error_kind(exc))
                close, status = True, 0
            else:
                stats.record(phase, start, time.perf_counter() - start)
                stats.statuses[status] += 1
                if status >= 500:
                    stats.error(phase, f"HTTP {status}")
                elif status >= 400:
                    stats.error(phase, f"unexpected HTTP {status}")
            served += 1
            if close or served == per_connection:
                if writer is not None and status:
                    writer.close()
                elif writer is not None:
                    writer.transport.abort()  # after an error its state is unknown
                writer = reader = None
                served = 0
    finally:
        if writer is not None:
            writer.transport.abort()


async def _connect(port: int, stats: SlowStats, rcvbuf: int | None = None) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
    except OSError as exc:
        sock.close()
        stats.connect_errors[type(exc).__name__] += 1
        await asyncio.sleep(1.0)
        return None
    stats.opened += 1
    stats.open_since[sock.fileno()] = time.perf_counter()
    return sock


def _ended(stats: SlowStats, sock: socket.socket, how: str) -> None:
    since = stats.open_since.pop(sock.fileno(), None)
    if since is not None:
        stats.lifetimes.append(time.perf_counter() - since)
    stats.endings[how] += 1


def _release(stats: SlowStats, sock: socket.socket) -> None:
    stats.open_since.pop(sock.fileno(), None)
    sock.close()


async def _trickle(sock: socket.socket, data: bytes, interval: float) -> str:
    """Send ``data`` a byte every ``interval`` seconds (the last byte forever) until the
    server answers or closes; return how it ended.
    """
    loop = asyncio.get_running_loop()
    # One read stays pending across the pauses. Timing out a read by cancelling it drops
    # an answer that arrives at that very moment, and a server timeout that is a multiple
    # of the interval makes that moment a likely one.
    reading = asyncio.ensure_future(loop.sock_recv(sock, 4096))
    try:
        sent = 0
        while not reading.done():
            # A refused byte means the server is gone; the read says how it left.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await loop.sock_sendall(sock, data[sent : sent + 1])
            sent = min(sent + 1, len(data) - 1)
            await asyncio.wait({reading}, timeout=interval)
        answer = reading.result()
    except ConnectionResetError:
        return "reset"
    except OSError as exc:
        return type(exc).__name__
    finally:
        reading.cancel()
    if not answer:
        return "closed"
    if answer.startswith(b"HTTP/"):
        return "HTTP " + answer[9:12].decode("latin-1")
    return "other answer"


async def slow_header_client(port: int, stats: SlowStats, interval: float, delay: float) -> None:
    """Open a connection and send its request head a byte every ``interval`` seconds;
    when the server ends it, open another. Case 53 of the security spec.
    """
    await asyncio.sleep(delay)
    while True:
        sock = await _connect(port, stats)
        if sock is None:
            continue
        try:
            _ended(stats, sock, await _trickle(sock, _ENDLESS_HEAD, interval))
        finally:
            _release(stats, sock)


async def slow_body_client(port: int, stats: SlowStats, interval: float, delay: float) -> None:
    """Send a complete head announcing a 1 MB body, then the body a byte every
    ``interval`` seconds, until the server answers (408 at its body timeout) or closes.
    Case 15 of the security spec. The lifetime counts from the connect.
    """
    await asyncio.sleep(delay)
    loop = asyncio.get_running_loop()
    while True:
        sock = await _connect(port, stats)
        if sock is None:
            continue
        try:
            await loop.sock_sendall(sock, SLOW_BODY_HEAD)
            _ended(stats, sock, await _trickle(sock, _SLOW_BODY, interval))
        except (BrokenPipeError, ConnectionResetError):
            _ended(stats, sock, "reset")
        finally:
            _release(stats, sock)


def _peer_closed(sock: socket.socket) -> bool:
    # TCP_INFO's first byte is the kernel's TCP state: it tells a server-side close apart
    # without reading the stream.
    with contextlib.suppress(OSError):
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] in _PEER_GONE
    return False


async def never_reading_client(port: int, stats: SlowStats, hold: float, delay: float) -> None:
    """Ask for the 8 MiB stream, never read a byte, and hang up after ``hold`` seconds
    (with unread data, so the close is a reset); then do it again. Case 54.

    Endings: "held" when the server still had the connection open at the hang-up,
    "server closed" when it had given up on it first (when is not known: nothing is read).
    """
    await asyncio.sleep(delay)
    loop = asyncio.get_running_loop()
    while True:
        sock = await _connect(port, stats, rcvbuf=NEVER_READ_RCVBUF)
        if sock is None:
            continue
        try:
            await loop.sock_sendall(sock, STREAM_REQUEST)
            await asyncio.sleep(hold)
            stats.endings["server closed" if _peer_closed(sock) else "held"] += 1
        except (BrokenPipeError, ConnectionResetError):
            _ended(stats, sock, "reset")
        finally:
            _release(stats, sock)


def spread(count: int, over: float) -> list[float]:
    """Start delays spreading ``count`` clients evenly over ``over`` seconds."""
    return [over * i / max(count, 1) for i in range(count)]


async def loop_lag(samples: list[float], every: float = 0.1) -> None:
    """Record how late this loop wakes up: a busy client process inflates latencies."""
    while True:
        start = time.perf_counter()
        await asyncio.sleep(every)
        samples.append(time.perf_counter() - start - every)


async def cancel_all(tasks: list[asyncio.Task[None]]) -> list[str]:
    """Cancel ``tasks`` and wait for them, so every socket they held is closed; return
    the errors of any that had died on their own (a client bug, not a server figure).
    """
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    tasks.clear()
    return [
        f"{type(r).__name__}: {r}"
        for r in results
        if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
    ]


async def fetch_json(port: int, path: str) -> Any:
    """GET ``path`` on a fresh connection and decode the JSON answer."""
    async with asyncio.timeout(REQUEST_TIMEOUT):
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            marker = lower.index(b"\r\ncontent-length:") + 17
            body = await reader.readexactly(int(lower[marker : lower.index(b"\r\n", marker)]))
        finally:
            writer.close()
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{path} answered {head[:12]!r}")
    return json.loads(body)

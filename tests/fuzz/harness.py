"""The fuzz tests' harness: apps served as raw ASGI scopes on one private event loop.

Every property sends its input the way a server would hand it to kettle (a scope and body
messages), so nothing between the generator and the parser normalises it away. The loop is
shared by all targets and lives until :func:`close_all` (the conftest calls it after each
module; ``bench/fuzz_long.py`` at exit), so an example costs one request, not a loop and an app.

Server errors are counted in :data:`STATS` and kept with their tracebacks: kettle logs an
unhandled exception on ``kettle.*`` loggers before answering 500, and an exception that
escapes the app entirely (a server would answer 500 for it) is caught here.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kettle import Kettle

SECRET = "fuzz-secret-" + "k" * 32

Header = tuple[bytes, bytes]


@dataclass
class Stats:
    """What the harness saw since the last :meth:`reset` (read by the long-run driver)."""

    requests: int = 0
    server_errors: int = 0
    tracebacks: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.requests = 0
        self.server_errors = 0
        self.tracebacks.clear()


STATS = Stats()


@dataclass(frozen=True)
class Reply:
    """One response as it went on the wire."""

    status: int
    headers: list[Header]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        values = self.header_list(name)
        return values[0] if values else None

    def header_list(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        key = name.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self.headers if k.lower() == key]


class _ErrorLog(logging.Handler):
    """Keeps the traceback of every error kettle logs while answering."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(record.exc_info[1]))
        else:
            text = record.getMessage()
        self.pending.append(text)


_ERRORS = _ErrorLog()
_loop: asyncio.AbstractEventLoop | None = None
_harnesses: list[Harness] = []


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    return _loop


def make_app(**config: Any) -> Kettle:
    """An app for one target: a secret key, small limits where a test asks for them."""
    return Kettle(__name__, config={"SECRET_KEY": SECRET, **config})


class Harness:
    """Serves one finalized app; :meth:`request` sends one raw request and returns the reply.

    Build it with a ``setup`` function that registers routes on a fresh app; the app is
    started (lifespan) on the shared loop once.
    """

    def __init__(self, setup: Callable[[Kettle], None], **config: Any) -> None:
        self.app = make_app(**config)
        setup(self.app)
        self.loop = _get_loop()
        self.loop.run_until_complete(self.app.startup())
        self.closed = False
        _harnesses.append(self)

    def request(
        self,
        path: str = "/",
        method: str = "GET",
        *,
        headers: Iterable[Header] = (),
        body: bytes = b"",
        query: bytes = b"",
        raw_path: bytes | None = None,
        chunk_size: int = 64 * 1024,
    ) -> Reply:
        """Send one request (``path`` already percent-decoded, as servers put it in the
        scope) and return the reply; the body arrives in ``chunk_size`` pieces.
        """
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": raw_path if raw_path is not None else path.encode("utf-8", "replace"),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"testserver"), *headers],
            "client": ("127.0.0.1", 40000),
            "server": ("testserver", 80),
        }
        return self.loop.run_until_complete(self._serve(scope, body, chunk_size))

    async def _serve(self, scope: dict[str, Any], body: bytes, chunk_size: int) -> Reply:
        chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)] or [b""]
        sent: list[Mapping[str, Any]] = []
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if chunks:
                piece = chunks.pop(0)
                return {"type": "http.request", "body": piece, "more_body": bool(chunks)}
            await done.wait()  # the client hangs up only once it has the response
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        STATS.requests += 1
        # Only while serving: what other tests' apps log is none of this harness's business.
        log = logging.getLogger("kettle")
        _ERRORS.pending.clear()
        log.addHandler(_ERRORS)
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            # A server would answer (or cut the connection) with a 500 here.
            _ERRORS.pending.append("".join(traceback.format_exception(exc)))
            if not sent:
                sent.append({"type": "http.response.start", "status": 500, "headers": []})
        finally:
            done.set()
            log.removeHandler(_ERRORS)
        start = sent[0]
        reply = Reply(
            start["status"],
            list(start.get("headers", [])),
            b"".join(m.get("body", b"") for m in sent[1:]),
        )
        logged, _ERRORS.pending[:] = list(_ERRORS.pending), []
        if reply.status >= 500 or logged:
            STATS.server_errors += 1
            STATS.tracebacks.extend(logged or [f"status {reply.status} without a logged error"])
            raise AssertionError(
                f"{scope['method']} {scope['path']!r} answered {reply.status}:\n"
                + "\n".join(logged)
            )
        return reply

    def close(self) -> None:
        """Run the app's shutdown (stops its thread pool)."""
        if not self.closed:
            self.closed = True
            self.loop.run_until_complete(self.app.shutdown())


def lazy(build: Callable[[], Harness]) -> Callable[[], Harness]:
    """``build`` run once, on first use (targets pay for their app only when they run)."""
    made: list[Harness] = []

    def get() -> Harness:
        if not made or made[0].closed:
            made[:] = [build()]
        return made[0]

    return get


def close_all() -> None:
    """Shut every harness down and close the loop."""
    global _loop
    while _harnesses:
        _harnesses.pop().close()
    if _loop is not None:
        _loop.run_until_complete(_loop.shutdown_asyncgens())
        _loop.run_until_complete(_loop.shutdown_default_executor())
        _loop.close()
        _loop = None

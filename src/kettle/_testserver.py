"""The server half of kettle's test clients.

Everything here is shared by ``TestClient`` (sync, app on a loop thread) and
``AsyncTestClient`` (app on the caller's loop): the HTTP scope is built once, one
coroutine runs a request and checks the app's messages, and one class drives lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx

from .servers._common import TEST_CLIENT

# The most accepting shapes an ASGI 3 app can be typed with: callers pass dicts and
# the app may send any mapping. kettle.types can take these over when it exists.
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_T = TypeVar("_T")

CHUNK_SIZE = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
# 2.3 rather than the newest: we implement none of the later response extensions.
_HTTP_ASGI = {"version": "3.0", "spec_version": "2.3"}
_LIFESPAN_ASGI = {"version": "3.0", "spec_version": "2.0"}


def http_scope(
    request: httpx.Request,
    *,
    root_path: str,
    client: tuple[str, int],
    state: dict[str, Any] | None,
) -> Scope:
    url = request.url
    # httpx's raw_path carries the query string; ASGI wants the two apart.
    raw_path = url.raw_path.partition(b"?")[0]
    scope: Scope = {
        "type": "http",
        "asgi": dict(_HTTP_ASGI),
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme,
        # As uvicorn does with --root-path: the prefix a proxy stripped is put back in
        # `path`, while `raw_path` stays the bytes that came over the wire.
        "path": root_path + unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": url.query,
        "root_path": root_path,
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "client": client,
        "server": (url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 80)),
    }
    if state is not None:
        # A shallow copy per request, as the lifespan-state extension asks: a request
        # can rebind keys without the next request seeing it.
        scope["state"] = dict(state)
    return scope


def _check_headers(headers: object) -> list[tuple[bytes, bytes]]:
    if not isinstance(headers, list | tuple):
        raise RuntimeError(f"'http.response.start' headers must be a list, got {headers!r}")
    checked: list[tuple[bytes, bytes]] = []
    for pair in headers:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(part, bytes) for part in pair)
        ):
            raise RuntimeError(
                f"'http.response.start' headers must be [name, value] byte pairs, got {pair!r}"
            )
        checked.append((pair[0], pair[1]))
    return checked


class _ResponseCycle:
    """One response, built from the app's messages and checked like a strict server."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.started = False
        self.complete = False
        # Kept so that a violation is reported even if the app catches what send() raised.
        self.error: RuntimeError | None = None

    def feed(self, message: Mapping[str, Any]) -> None:
        try:
            self._feed(message)
        except RuntimeError as exc:
            self.error = self.error or exc
            raise

    def _feed(self, message: Mapping[str, Any]) -> None:
        kind = message.get("type") if isinstance(message, Mapping) else message
        if self.complete:
            raise RuntimeError(f"the app sent {kind!r} after the response was complete")
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("the app sent 'http.response.start' twice")
            status = message.get("status")
            if type(status) is not int or not 100 <= status <= 599:
                raise RuntimeError(
                    f"'http.response.start' status must be an int in 100-599, got {status!r}"
                )
            self.headers = _check_headers(message.get("headers", []))
            self.status, self.started = status, True
        elif kind == "http.response.body":
            if not self.started:
                raise RuntimeError("the app sent 'http.response.body' before 'http.response.start'")
            body, more_body = message.get("body", b""), message.get("more_body", False)
            if not isinstance(body, bytes) or not isinstance(more_body, bool):
                raise RuntimeError(
                    "'http.response.body' needs bytes 'body' and bool 'more_body', "
                    f"got {body!r:.40} and {more_body!r}"
                )
            self.chunks.append(body)
            self.complete = not more_body
        else:
            raise RuntimeError(f"the app sent {kind!r}, which is not an ASGI http message")

    def response(self) -> httpx.Response:
        return httpx.Response(
            self.status, headers=self.headers, stream=httpx.ByteStream(b"".join(self.chunks))
        )


async def run_http(
    app: ASGIApp, scope: Scope, body: bytes, *, raise_server_exceptions: bool
) -> httpx.Response:
    """Run one request through the app and return what it answered."""
    cycle = _ResponseCycle()
    pending = deque(body[i : i + CHUNK_SIZE] for i in range(0, len(body), CHUNK_SIZE)) or deque(
        [b""]
    )
    hung_up = asyncio.Event()

    async def receive() -> Message:
        if pending:
            chunk = pending.popleft()
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        # A real client hangs up only once it has the whole response; an app that watches
        # for the disconnect while it streams must keep streaming until then.
        await hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        cycle.feed(message)
        if cycle.complete:
            hung_up.set()

    failure: Exception | None = None
    try:
        await app(scope, receive, send)
    except Exception as exc:
        failure = exc
    finally:
        hung_up.set()  # wake any task of the app's still waiting on receive()

    if cycle.error is not None:
        if failure is None or failure is cycle.error:
            raise cycle.error
        raise cycle.error from failure
    if failure is not None:
        if not raise_server_exceptions and not cycle.started:
            return httpx.Response(500, text="Internal Server Error")
        if not raise_server_exceptions and cycle.complete:
            return cycle.response()  # the client has it all; a server would only log
        # A half-sent response: a server could only drop the connection.
        raise failure
    if not cycle.started:
        raise RuntimeError("the app returned without sending 'http.response.start'")
    if not cycle.complete:
        raise RuntimeError(
            "the app returned before the response was complete "
            "(its last 'http.response.body' had more_body=True)"
        )
    return cycle.response()


class Lifespan:
    """Drives the app's ``lifespan`` scope from a task on the running loop."""

    def __init__(self, app: ASGIApp, *, raise_server_exceptions: bool) -> None:
        self._app = app
        self._raise = raise_server_exceptions
        self.state: dict[str, Any] = {}
        self.supported = False
        self._task: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[Message] | None = None
        # None marks the end of the app's lifespan coroutine.
        self._outbox: asyncio.Queue[Mapping[str, Any] | None] | None = None
        self._listened = False
        self._shut = False
        self._error: Exception | None = None

    def request_state(self) -> dict[str, Any] | None:
        """The state each request gets a copy of, or None when the app has no lifespan."""
        return self.state if self.supported else None

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the app's answer."""
        self._inbox, self._outbox = asyncio.Queue(), asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._main())
        try:
            await self._inbox.put({"type": "lifespan.startup"})
            reply = await self._outbox.get()
            if reply is None:
                # Per the spec an app that raises on the lifespan scope does not support
                # it, and we carry on. But one that raised after reading 'lifespan.startup'
                # crashed in its startup code, and a test should see that.
                if self._error is not None and self._listened and self._raise:
                    raise self._error
                return
            kind = reply.get("type")
            if kind == "lifespan.startup.failed":
                raise RuntimeError(f"lifespan startup failed: {reply.get('message', '')}")
            if kind != "lifespan.startup.complete":
                raise RuntimeError(f"the app answered 'lifespan.startup' with {kind!r}")
            self.supported = True
        except BaseException:
            await self._abort()
            raise

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` (if startup completed) and wait for the app to end."""
        if not self.supported or self._inbox is None or self._outbox is None:
            return
        self.supported = False
        try:
            await self._inbox.put({"type": "lifespan.shutdown"})
            reply = await self._outbox.get()
            if reply is not None and self._task is not None:
                await self._task  # the app must return once it has answered
            if reply is None and self._error is None:
                raise RuntimeError(
                    "the app's lifespan returned without answering 'lifespan.shutdown'"
                )
            kind = None if reply is None else reply.get("type")
            if reply is not None and kind == "lifespan.shutdown.failed":
                # Apps such as Starlette's report the failure, then re-raise the cause.
                message = f"lifespan shutdown failed: {reply.get('message', '')}"
                raise RuntimeError(message) from self._error
            if reply is not None and kind != "lifespan.shutdown.complete":
                raise RuntimeError(f"the app answered 'lifespan.shutdown' with {kind!r}")
            if self._error is not None and self._raise:
                raise self._error
        finally:
            await self._abort()

    async def _main(self) -> None:
        assert self._outbox is not None
        scope: Scope = {
            "type": "lifespan",
            "asgi": dict(_LIFESPAN_ASGI),
            "state": self.state,
            # kettle does not freeze its heap under a test client (servers/_common.py).
            "extensions": {TEST_CLIENT: {}},
        }
        try:
            await self._app(scope, self._receive, self._send)
        except Exception as exc:  # startup() and shutdown() decide what it means
            self._error = exc
        finally:
            self._outbox.put_nowait(None)

    async def _receive(self) -> Message:
        assert self._inbox is not None
        if self._shut:
            raise RuntimeError("the app called receive() again after 'lifespan.shutdown'")
        self._listened = True
        message = await self._inbox.get()
        self._shut = message["type"] == "lifespan.shutdown"
        return message

    async def _send(self, message: Mapping[str, Any]) -> None:
        assert self._outbox is not None
        if not isinstance(message, Mapping):
            raise RuntimeError(f"ASGI messages are mappings, got {message!r}")
        await self._outbox.put(message)

    async def _abort(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class LoopThread:
    """An asyncio loop of its own in a background thread, for the sync client.

    One loop for the client's whole life, so what the app makes at startup (pools,
    tasks, connections) is still bound to the loop that serves later requests.
    """

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._run, name="kettle-testclient-loop", daemon=True
        )
        self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        # Runner.close() cancels what the app left running, finalizes async generators
        # and joins the default executor, so no task or worker thread outlives us.
        with asyncio.Runner() as runner:
            runner.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._ready.set()
        await self._stopping.wait()

    def call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coro`` on the loop and wait for its result (or exception)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def stop(self) -> None:
        """Stop the loop and join its thread."""
        if self._loop is not None and self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join()

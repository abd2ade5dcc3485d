"""kettle.testing: TestClient, AsyncTestClient and the pytest plugin, against raw ASGI apps."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from kettle._testserver import Message, Receive, Scope, Send
from kettle.testing import AsyncTestClient, TestClient

pytest_plugins = ["pytester"]

App = Callable[[Scope, Receive, Send], Awaitable[None]]


# --- helpers and small apps ------------------------------------------------------------


async def read_body(receive: Receive) -> list[Message]:
    messages = [await receive()]
    while messages[-1].get("more_body", False):
        messages.append(await receive())
    return messages


async def respond(
    send: Send,
    body: bytes = b"",
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


def http_only(handler: App) -> App:
    """Wrap a handler into an app that, per the spec, signals no lifespan by raising."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("lifespan is not supported")
        await handler(scope, receive, send)

    return app


class Recorder:
    """Echoes the request body and keeps every scope and request message it saw."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []
        self.messages: list[Message] = []

    @property
    def scope(self) -> Scope:
        return self.scopes[-1]

    def headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.scope["headers"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"  # no lifespan support, as the spec allows
        self.scopes.append(scope)
        self.messages = await read_body(receive)
        body = b"".join(message.get("body", b"") for message in self.messages)
        await respond(send, body, headers=[(b"content-type", b"application/octet-stream")])


def request_in(mode: str, app: App, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send one request through TestClient ("sync") or AsyncTestClient ("async")."""
    if mode == "sync":
        with TestClient(app) as client:
            return client.request(method, url, **kwargs)

    async def main() -> httpx.Response:
        async with AsyncTestClient(app) as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(main())


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def baseline_threads() -> Iterator[int]:
    count = threading.active_count()
    yield count
    assert threading.active_count() == count, "a TestClient left a thread running"


# --- requests and the scope ------------------------------------------------------------


@MODES
@pytest.mark.parametrize(
    ("method", "kwargs", "body"),
    [
        ("GET", {}, b""),
        ("POST", {"content": b"hello"}, b"hello"),
        ("PUT", {"json": {"a": [1, 2]}}, b'{"a":[1,2]}'),
        ("PATCH", {"data": {"k": "v w"}}, b"k=v+w"),
        ("DELETE", {}, b""),
    ],
)
def test_methods_and_bodies(mode: str, method: str, kwargs: dict[str, Any], body: bytes) -> None:
    app = Recorder()
    response = request_in(mode, app, method, "/echo", **kwargs)
    assert response.status_code == 200
    assert response.content == body
    assert app.scope["method"] == method
    assert app.messages == [{"type": "http.request", "body": body, "more_body": False}]
    lengths = [value for name, value in app.headers() if name == b"content-length"]
    assert lengths == ([str(len(body)).encode()] if body else [])


@MODES
def test_large_body_arrives_in_64k_chunks(mode: str) -> None:
    app = Recorder()
    body = bytes(range(256)) * 800  # 200 KiB
    response = request_in(mode, app, "POST", "/upload", content=body)
    assert response.content == body
    assert [len(message["body"]) for message in app.messages] == [65536, 65536, 65536, 8192]
    assert [message["more_body"] for message in app.messages] == [True, True, True, False]


@MODES
@pytest.mark.parametrize(
    ("url", "path", "raw_path", "query_string"),
    [
        ("/", "/", b"/", b""),
        ("/caf%C3%A9/a%2Fb", "/café/a/b", b"/caf%C3%A9/a%2Fb", b""),
        ("/café", "/café", b"/caf%C3%A9", b""),
        ("/search?q=a%20b&x=1&x=2", "/search", b"/search", b"q=a%20b&x=1&x=2"),
        ("/sp ace?", "/sp ace", b"/sp%20ace", b""),
    ],
)
def test_path_and_query(
    mode: str, url: str, path: str, raw_path: bytes, query_string: bytes
) -> None:
    app = Recorder()
    request_in(mode, app, "GET", url)
    assert app.scope["path"] == path
    assert app.scope["raw_path"] == raw_path
    assert app.scope["query_string"] == query_string


@MODES
def test_scope_is_spec_shaped(mode: str) -> None:
    app = Recorder()
    request_in(mode, app, "GET", "/x")
    scope = app.scope
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "http"
    assert scope["root_path"] == ""
    assert scope["client"] == ("testclient", 50000)
    assert scope["server"] == ("testserver", 80)
    assert "state" not in scope  # the app has no lifespan, so no state to copy
    assert all(isinstance(n, bytes) and n == n.lower() for n, _ in scope["headers"])
    assert (b"host", b"testserver") in scope["headers"]
    assert (b"user-agent", b"testclient") in scope["headers"]


def test_headers_from_client_and_request_are_kept_in_order() -> None:
    app = Recorder()
    with TestClient(app, headers={"X-Client": "c", "User-Agent": "mine"}) as client:
        client.get("/", headers=[("X-Dup", "1"), ("x-dup", "2")])
    headers = app.headers()
    assert (b"x-client", b"c") in headers
    assert [v for n, v in headers if n == b"user-agent"] == [b"mine"]
    assert [v for n, v in headers if n == b"x-dup"] == [b"1", b"2"]


def test_base_url_root_path_and_client_address() -> None:
    app = Recorder()
    client = TestClient(
        app, "https://example.org:8443", root_path="/api", client=("10.0.0.7", 4321)
    )
    with client:
        client.get("/items/a%20b?page=2")
    scope = app.scope
    assert scope["scheme"] == "https"
    assert scope["server"] == ("example.org", 8443)
    assert scope["client"] == ("10.0.0.7", 4321)
    assert scope["root_path"] == "/api"
    # As behind uvicorn --root-path: the prefix is part of path, not of raw_path.
    assert scope["path"] == "/api/items/a b"
    assert scope["raw_path"] == b"/items/a%20b"
    assert (b"host", b"example.org:8443") in scope["headers"]


def test_default_https_port() -> None:
    app = Recorder()
    with TestClient(app, "https://secure") as client:
        client.get("/")
    assert app.scope["server"] == ("secure", 443)


# --- cookies and redirects -------------------------------------------------------------


@http_only
async def session_app(scope: Scope, receive: Receive, send: Send) -> None:
    await read_body(receive)
    if scope["path"] == "/login":
        await respond(send, b"ok", headers=[(b"set-cookie", b"sid=abc123; Path=/; HttpOnly")])
        return
    cookie = dict(scope["headers"]).get(b"cookie", b"")
    await respond(send, cookie)


def test_cookies_persist_across_requests() -> None:
    with TestClient(session_app) as client:
        assert client.get("/me").content == b""
        login = client.post("/login")
        assert login.cookies["sid"] == "abc123"
        assert client.get("/me").content == b"sid=abc123"
        assert client.cookies["sid"] == "abc123"


def test_cookies_given_to_the_client_are_sent() -> None:
    with TestClient(session_app, cookies={"theme": "dark"}) as client:
        assert client.get("/me").content == b"theme=dark"


@http_only
async def redirect_app(scope: Scope, receive: Receive, send: Send) -> None:
    await read_body(receive)
    if scope["path"] == "/old":
        await respond(send, status=302, headers=[(b"location", b"/new")])
    else:
        await respond(send, scope["path"].encode())


@pytest.mark.parametrize(
    ("client_follows", "request_follows", "status", "final_path"),
    [
        (False, None, 302, "/old"),
        (True, None, 200, "/new"),
        (False, True, 200, "/new"),
        (True, False, 302, "/old"),
    ],
)
def test_redirects(
    client_follows: bool, request_follows: bool | None, status: int, final_path: str
) -> None:
    follow = httpx.USE_CLIENT_DEFAULT if request_follows is None else request_follows
    with TestClient(redirect_app, follow_redirects=client_follows) as client:
        response = client.get("/old", follow_redirects=follow)
    assert response.status_code == status
    assert response.url.path == final_path


# --- streaming and disconnect ----------------------------------------------------------


@http_only
async def streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
    await read_body(receive)
    # Watch for the disconnect while streaming, as streaming responses do: it must not
    # come before the response is complete.
    watcher = asyncio.ensure_future(receive())
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for part in (b"a", b"b", b"c"):
        await asyncio.sleep(0)
        assert not watcher.done()
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    assert await watcher == {"type": "http.disconnect"}


@MODES
def test_streamed_response_is_collected(mode: str) -> None:
    assert request_in(mode, streaming_app, "GET", "/").content == b"abc"


def test_client_stream_api() -> None:
    with TestClient(streaming_app) as client, client.stream("GET", "/") as response:
        assert response.status_code == 200
        assert b"".join(response.iter_bytes()) == b"abc"


def test_receive_after_response_gives_disconnect() -> None:
    seen: list[Message] = []

    @http_only
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)
        await respond(send, b"done")
        seen.append(await receive())  # work after the response, like a background task

    with TestClient(app) as client:
        assert client.get("/").content == b"done"
    assert seen == [{"type": "http.disconnect"}]


# --- lifespan --------------------------------------------------------------------------


class LifespanApp:
    """Records lifespan and request events; startup puts a resource in the state."""

    def __init__(self, *, fail_startup: str = "", fail_shutdown: str = "") -> None:
        self.events: list[str] = []
        self.loops: set[int] = set()
        self.fail_startup = fail_startup
        self.fail_shutdown = fail_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.loops.add(id(asyncio.get_running_loop()))
        if scope["type"] == "lifespan":
            await self.lifespan(scope, receive, send)
            return
        self.events.append("request")
        await read_body(receive)
        state = scope["state"]
        body = json.dumps(state).encode()
        state["db"] = "changed by a request"  # must not leak into the next request
        await respond(send, body)

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.events.append("startup")
                if self.fail_startup:
                    await send({"type": "lifespan.startup.failed", "message": self.fail_startup})
                    return
                scope["state"]["db"] = "connected"
                await send({"type": "lifespan.startup.complete"})
            else:
                self.events.append("shutdown")
                if self.fail_shutdown:
                    await send({"type": "lifespan.shutdown.failed", "message": self.fail_shutdown})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                return


def test_lifespan_with_block_and_state(baseline_threads: int) -> None:
    app = LifespanApp()
    with TestClient(app) as client:
        assert app.events == ["startup"]
        assert client.get("/").json() == {"db": "connected"}
        assert client.get("/").json() == {"db": "connected"}
    assert app.events == ["startup", "request", "request", "shutdown"]
    assert len(app.loops) == 1  # startup, requests and shutdown share one loop


def test_lifespan_runs_lazily_without_with(baseline_threads: int) -> None:
    app = LifespanApp()
    client = TestClient(app)
    assert app.events == []
    assert client.get("/").json() == {"db": "connected"}
    assert app.events == ["startup", "request"]
    client.close()
    assert app.events == ["startup", "request", "shutdown"]


def test_app_runs_on_one_background_loop() -> None:
    threads: set[int] = set()
    loops: set[int] = set()

    @http_only
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        threads.add(threading.get_ident())
        loops.add(id(asyncio.get_running_loop()))
        await respond(send)

    with TestClient(app) as client:
        client.get("/")
        client.get("/")
    assert len(loops) == 1
    assert len(threads) == 1
    assert threading.get_ident() not in threads


@pytest.mark.parametrize("lazy", [False, True])
def test_startup_failure_raises(lazy: bool, baseline_threads: int) -> None:
    app = LifespanApp(fail_startup="database is down")
    client = TestClient(app)
    with pytest.raises(RuntimeError, match="lifespan startup failed: database is down"):
        if lazy:
            client.get("/")
        else:
            client.__enter__()
    client.close()
    assert app.events == ["startup"]


def test_shutdown_failure_raises(baseline_threads: int) -> None:
    app = LifespanApp(fail_shutdown="could not flush")
    with (
        pytest.raises(RuntimeError, match="lifespan shutdown failed: could not flush"),
        TestClient(app),
    ):
        pass


@pytest.mark.parametrize("refusal", ["raises", "returns"])
def test_app_without_lifespan_support_is_served(refusal: str) -> None:
    recorder = Recorder()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and refusal == "returns":
            return
        await recorder(scope, receive, send)  # asserts an http scope: raises on lifespan

    with TestClient(app) as client:
        assert client.get("/").status_code == 200
    assert "state" not in recorder.scope


def shutdown_misbehaving(how: str) -> App:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        if how == "fails-then-raises":  # what Starlette's lifespan does
            await send({"type": "lifespan.shutdown.failed", "message": "cleanup crashed"})
        if how in ("raises", "fails-then-raises"):
            raise ValueError("cleanup crashed")
        if how == "listens-again":
            await send({"type": "lifespan.shutdown.complete"})
            await receive()

    return app


@pytest.mark.parametrize(
    ("how", "error", "message"),
    [
        ("returns", RuntimeError, "returned without answering 'lifespan.shutdown'"),
        ("raises", ValueError, "cleanup crashed"),
        ("fails-then-raises", RuntimeError, "lifespan shutdown failed: cleanup crashed"),
        ("listens-again", RuntimeError, r"receive\(\) again after 'lifespan.shutdown'"),
    ],
)
def test_shutdown_misbehaviour_is_reported(
    how: str, error: type[Exception], message: str, baseline_threads: int
) -> None:
    with pytest.raises(error, match=message), TestClient(shutdown_misbehaving(how)):
        pass


async def crashing_startup(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    raise ValueError("startup code crashed")


def test_crash_in_startup_code_is_raised() -> None:
    with pytest.raises(ValueError, match="startup code crashed"), TestClient(crashing_startup):
        pass


def test_crash_in_startup_code_is_ignored_when_asked() -> None:
    with TestClient(crashing_startup, raise_server_exceptions=False):
        pass


# --- app errors and protocol violations ------------------------------------------------


@http_only
async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    await read_body(receive)
    if scope["path"] != "/early":
        await send({"type": "http.response.start", "status": 200, "headers": []})
    if scope["path"] == "/after":
        await send({"type": "http.response.body", "body": b"sent"})
    raise ValueError("handler failed")


@MODES
@pytest.mark.parametrize("path", ["/early", "/late", "/after"])
def test_app_exception_is_reraised(mode: str, path: str) -> None:
    with pytest.raises(ValueError, match="handler failed"):
        request_in(mode, failing_app, "GET", path)


def test_app_exception_becomes_500_when_asked() -> None:
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        assert client.get("/early").status_code == 500
        # An error after a complete response only reaches the server's log.
        assert client.get("/after").content == b"sent"
        # A half-sent response: a server can only drop the connection, so it still raises.
        with pytest.raises(ValueError, match="handler failed"):
            client.get("/late")


START: Message = {"type": "http.response.start", "status": 200, "headers": []}
BODY: Message = {"type": "http.response.body", "body": b"x"}


def sends(*messages: Message) -> App:
    @http_only
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)
        for message in messages:
            await send(message)

    return app


@http_only
async def swallows_errors(scope: Scope, receive: Receive, send: Send) -> None:
    with contextlib.suppress(RuntimeError):  # a misbehaving app that hides the error
        await send(BODY)
    await send(START)
    await send(BODY)


@MODES
@pytest.mark.parametrize(
    ("app", "error"),
    [
        (sends(BODY), "'http.response.body' before 'http.response.start'"),
        (sends(START, START), "'http.response.start' twice"),
        (sends(), "returned without sending 'http.response.start'"),
        (sends(START), "returned before the response was complete"),
        (sends(START, {**BODY, "more_body": True}), "returned before the response was complete"),
        (sends(START, BODY, BODY), "after the response was complete"),
        (sends({**START, "status": "200"}), "status must be an int"),
        (sends({**START, "headers": [("a", "b")]}), r"\[name, value\] byte pairs"),
        (sends({**START, "headers": {b"a": b"b"}}), "headers must be a list"),
        (sends(START, {**BODY, "body": "text"}), "needs bytes 'body'"),
        (sends({"type": "http.response.trailers"}), "not an ASGI http message"),
        (swallows_errors, "'http.response.body' before 'http.response.start'"),
    ],
)
def test_protocol_violations_are_reported(mode: str, app: App, error: str) -> None:
    with pytest.raises(RuntimeError, match=error):
        request_in(mode, app, "GET", "/")


@pytest.mark.parametrize("reply", ["lifespan.shutdown.complete", "http.response.start"])
def test_wrong_lifespan_reply_is_reported(reply: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": reply})

    with pytest.raises(RuntimeError, match=f"answered 'lifespan.startup' with '{reply}'"):
        TestClient(app).__enter__()


# --- no leaks --------------------------------------------------------------------------


@http_only
async def busy_app(scope: Scope, receive: Receive, send: Send) -> None:
    await read_body(receive)
    # A worker thread from the default executor and a task that never ends: both must be
    # gone once the client is closed.
    await asyncio.to_thread(sum, range(10))
    asyncio.get_running_loop().create_task(asyncio.sleep(3600))
    await respond(send)


@pytest.mark.parametrize("use_with", [True, False])
def test_no_thread_leak(use_with: bool, baseline_threads: int) -> None:
    client = TestClient(busy_app)
    if use_with:
        with client:
            client.get("/")
    else:
        client.get("/")
        client.close()
    assert client.is_closed


def test_unused_client_starts_no_thread(baseline_threads: int) -> None:
    TestClient(Recorder()).close()


# --- AsyncTestClient -------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_client_lifespan_and_state() -> None:
    app = LifespanApp()
    async with AsyncTestClient(app) as client:
        assert app.events == ["startup"]
        response = await client.post("/", json={"x": 1})
        assert response.json() == {"db": "connected"}
        assert (await client.get("/")).json() == {"db": "connected"}
    assert app.events == ["startup", "request", "request", "shutdown"]
    assert app.loops == {id(asyncio.get_running_loop())}  # the caller's loop, no thread


@pytest.mark.anyio
async def test_async_client_startup_failure() -> None:
    app = LifespanApp(fail_startup="no cache")
    with pytest.raises(RuntimeError, match="no cache"):
        async with AsyncTestClient(app):
            pass


@pytest.mark.anyio
async def test_async_client_cookies_and_redirects() -> None:
    async with AsyncTestClient(session_app) as client:
        await client.post("/login")
        assert (await client.get("/me")).content == b"sid=abc123"
    async with AsyncTestClient(redirect_app, follow_redirects=True) as client:
        assert (await client.get("/old")).url.path == "/new"


# --- the pytest plugin -----------------------------------------------------------------

CONFTEST_APP = """
import pytest

async def hello(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello " + scope["path"].encode()})
"""

USES_CLIENT = """
def test_hello(client):
    assert client.get("/there").text == "hello /there"
"""


def plugin_args() -> list[str]:
    # Once kettle is installed its pytest11 entry point loads the plugin; naming it
    # again with -p would register it twice.
    installed = any(
        ep.value == "kettle.testing" for ep in importlib.metadata.entry_points(group="pytest11")
    )
    return [] if installed else ["-p", "kettle.testing"]


def test_plugin_client_with_app_fixture_from_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST_APP + "\n@pytest.fixture\ndef app():\n    return hello\n")
    pytester.makepyfile(USES_CLIENT)
    pytester.runpytest(*plugin_args()).assert_outcomes(passed=1)


def test_plugin_async_client(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST_APP + "\n@pytest.fixture\ndef app():\n    return hello\n")
    pytester.makepyfile(
        """
        async def test_hello(async_client):
            assert (await async_client.get("/a")).text == "hello /a"
        """
    )
    pytester.runpytest(*plugin_args()).assert_outcomes(passed=1)


def test_plugin_missing_app(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KETTLE_APP", raising=False)
    pytester.makepyfile(USES_CLIENT)
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*Define an `app` fixture*kettle_app*"])


def test_plugin_app_from_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KETTLE_APP", raising=False)
    pytester.makepyfile(myproject=CONFTEST_APP)
    # The test lives in tests/, so only the plugin can put the project root on sys.path.
    pytester.mkdir("tests").joinpath("test_it.py").write_text(USES_CLIENT)
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nkettle_app = "myproject:hello"\n')
    pytester.runpytest(*plugin_args()).assert_outcomes(passed=1)


def test_plugin_app_from_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETTLE_APP", "envproject:hello")
    pytester.makepyfile(envproject=CONFTEST_APP, test_it=USES_CLIENT)
    pytester.runpytest(*plugin_args()).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("no_colon_here", "*kettle_app must look like 'module:attr'*"),
        ("badproject:NOT_AN_APP", "*badproject:NOT_AN_APP is not an ASGI app*"),
    ],
)
def test_plugin_bad_app_spec(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, spec: str, error: str
) -> None:
    monkeypatch.setenv("KETTLE_APP", spec)
    pytester.makepyfile(badproject="NOT_AN_APP = 'a string'", test_it=USES_CLIENT)
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([error])

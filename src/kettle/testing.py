"""Test clients for ASGI apps, and kettle's pytest plugin.

``TestClient`` is an ``httpx.Client`` whose requests are served by the app in-process, on
an event loop the client keeps in a background thread; ``AsyncTestClient`` is its
``httpx.AsyncClient`` twin, running the app on the caller's loop. Both work with any
ASGI 3 app and check its messages as a strict server would.

The pytest plugin (registered through the ``pytest11`` entry point) provides the ``app``,
``client`` and ``async_client`` fixtures.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, cast

import httpx

from ._testserver import ASGIApp, Lifespan, LoopThread, http_scope, run_http

__all__ = ["AsyncTestClient", "TestClient"]

_DEFAULT_CLIENT = ("testclient", 50000)


def _default_headers(headers: Mapping[str, str] | None) -> httpx.Headers:
    merged = httpx.Headers({"user-agent": "testclient"})
    merged.update(headers or {})  # case-insensitive, so the caller's User-Agent wins
    return merged


class _SyncASGITransport(httpx.BaseTransport):
    """Serves ``httpx.Client`` requests from the app, on a loop thread of its own."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        raise_server_exceptions: bool,
        root_path: str,
        client: tuple[str, int],
    ) -> None:
        self._app = app
        self._raise = raise_server_exceptions
        self._root_path = root_path
        self._client = client
        self._lock = threading.Lock()
        self._loop: LoopThread | None = None
        self._lifespan: Lifespan | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._closed = False

    def __enter__(self) -> _SyncASGITransport:
        self._start()
        return self

    def _start(self) -> tuple[LoopThread, Lifespan]:
        # The lock makes lazy startup safe when several threads share one client.
        with self._lock:
            if self._closed:
                raise RuntimeError("this TestClient is closed")
            if self._loop is None or self._lifespan is None:
                loop = LoopThread()
                lifespan = Lifespan(self._app, raise_server_exceptions=self._raise)
                try:
                    loop.call(lifespan.startup())
                except BaseException:
                    loop.stop()
                    raise
                self._loop, self._lifespan = loop, lifespan
                # A client used Flask-style, never closed, still shuts the app down and
                # stops its thread when it is collected or the interpreter exits.
                self._finalizer = weakref.finalize(self, _stop_quietly, loop, lifespan)
            return self._loop, self._lifespan

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Run ``request`` through the app on the loop thread."""
        loop, lifespan = self._start()
        body = request.read()
        scope = http_scope(
            request,
            root_path=self._root_path,
            client=self._client,
            state=lifespan.request_state(),
        )
        return loop.call(run_http(self._app, scope, body, raise_server_exceptions=self._raise))

    def close(self) -> None:
        """Run lifespan shutdown, then stop the loop thread."""
        with self._lock:
            loop, lifespan = self._loop, self._lifespan
            self._closed, self._loop, self._lifespan = True, None, None
            if self._finalizer is not None:
                self._finalizer.detach()
        if loop is None or lifespan is None:
            return
        try:
            loop.call(lifespan.shutdown())
        finally:
            loop.stop()


def _stop_quietly(loop: LoopThread, lifespan: Lifespan) -> None:
    try:
        loop.call(lifespan.shutdown())
    except Exception:  # nobody is left to report it to
        pass
    finally:
        loop.stop()


class _AsyncASGITransport(httpx.AsyncBaseTransport):
    """Serves ``httpx.AsyncClient`` requests from the app, on the caller's loop."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        raise_server_exceptions: bool,
        root_path: str,
        client: tuple[str, int],
    ) -> None:
        self._app = app
        self._raise = raise_server_exceptions
        self._root_path = root_path
        self._client = client
        self._lifespan = Lifespan(app, raise_server_exceptions=raise_server_exceptions)

    async def __aenter__(self) -> _AsyncASGITransport:
        await self._lifespan.startup()
        return self

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Run ``request`` through the app on the running loop."""
        body = await request.aread()
        scope = http_scope(
            request,
            root_path=self._root_path,
            client=self._client,
            state=self._lifespan.request_state(),
        )
        return await run_http(self._app, scope, body, raise_server_exceptions=self._raise)

    async def aclose(self) -> None:
        """Run lifespan shutdown if startup ran."""
        await self._lifespan.shutdown()


class TestClient(httpx.Client):
    """A synchronous ``httpx.Client`` that serves requests from ``app`` in-process.

    The app runs on one asyncio loop in a background thread, for the client's whole
    life. ``with TestClient(app) as client:`` runs lifespan startup on entry and shutdown
    on exit; without ``with``, startup runs before the first request and shutdown on
    ``close()``. Exceptions raised by the app reach the caller unless
    ``raise_server_exceptions`` is false: then an unstarted response becomes a 500 and an
    error after a complete response is dropped, as a server would log and move on.
    Protocol violations (say, a body before ``http.response.start``) always raise.

    ``root_path`` behaves like uvicorn's ``--root-path``: it is put in the scope and in
    front of each request's ``path``. ``client`` is the peer address the app sees.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        *,
        raise_server_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = _DEFAULT_CLIENT,
        follow_redirects: bool = False,
        headers: Mapping[str, str] | None = None,
        cookies: httpx.Cookies | dict[str, str] | None = None,
    ) -> None:
        self.app = app
        transport = _SyncASGITransport(
            app,
            raise_server_exceptions=raise_server_exceptions,
            root_path=root_path,
            client=client,
        )
        super().__init__(
            base_url=base_url,
            headers=_default_headers(headers),
            cookies=cookies,
            follow_redirects=follow_redirects,
            transport=transport,
            trust_env=False,  # no proxies or .netrc from the environment in tests
        )


class AsyncTestClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that serves requests from ``app`` on the running loop.

    Lifespan runs only inside ``async with AsyncTestClient(app) as client:``. The app
    runs on the caller's loop, which must be asyncio. Outside pytest::

        async def main() -> None:
            async with AsyncTestClient(app) as client:
                assert (await client.get("/")).status_code == 200

        asyncio.run(main())

    Under pytest, mark the test with ``@pytest.mark.anyio`` (anyio's plugin ships with
    anyio, which httpx depends on) or use the ``async_client`` fixture. The other
    arguments are those of ``TestClient``.
    """

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        *,
        raise_server_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = _DEFAULT_CLIENT,
        follow_redirects: bool = False,
        headers: Mapping[str, str] | None = None,
        cookies: httpx.Cookies | dict[str, str] | None = None,
    ) -> None:
        self.app = app
        transport = _AsyncASGITransport(
            app,
            raise_server_exceptions=raise_server_exceptions,
            root_path=root_path,
            client=client,
        )
        super().__init__(
            base_url=base_url,
            headers=_default_headers(headers),
            cookies=cookies,
            follow_redirects=follow_redirects,
            transport=transport,
            trust_env=False,
        )


# The pytest plugin. pytest is not a dependency of kettle, so the clients above must
# stay importable without it (for unittest users).
try:
    import pytest
except ImportError:  # pragma: no cover
    pass
else:
    _MISSING_APP = (
        "kettle's fixtures need your app. Define an `app` fixture in conftest.py that "
        'returns it, or set `kettle_app = "module:attr"` under [tool.pytest.ini_options] '
        "(or the KETTLE_APP environment variable)."
    )

    def pytest_addoption(parser: pytest.Parser) -> None:
        """Register the ``kettle_app`` ini option."""
        parser.addini(
            "kettle_app",
            help='the app for kettle\'s fixtures, as "module:attr" (else $KETTLE_APP)',
            default="",
        )

    def _load_app(spec: str, rootpath: str) -> ASGIApp:
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            pytest.fail(f"kettle_app must look like 'module:attr', got {spec!r}", pytrace=False)
        try:
            obj: object = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # As uvicorn does with its app dir: a module beside pyproject.toml should
            # load even when the project root is not on sys.path.
            if exc.name != module_name.partition(".")[0] or rootpath in sys.path:
                raise
            sys.path.insert(0, rootpath)
            obj = importlib.import_module(module_name)
        for name in attr.split("."):
            obj = getattr(obj, name)
        if not callable(obj):
            pytest.fail(f"{spec} is not an ASGI app: {obj!r}", pytrace=False)
        return cast(ASGIApp, obj)

    @pytest.fixture
    def app(request: pytest.FixtureRequest) -> ASGIApp:
        """The app under test: from ``kettle_app`` (ini) or ``$KETTLE_APP``.

        Most projects override this fixture in their ``conftest.py``.
        """
        spec = str(request.config.getini("kettle_app")) or os.environ.get("KETTLE_APP", "")
        if not spec:
            pytest.fail(_MISSING_APP, pytrace=False)
        return _load_app(spec, str(request.config.rootpath))

    @pytest.fixture
    def client(app: ASGIApp) -> Iterator[TestClient]:
        """A ``TestClient`` for ``app``, with lifespan started for the test."""
        with TestClient(app) as test_client:
            yield test_client

    @pytest.fixture
    async def async_client(app: ASGIApp, anyio_backend: object) -> AsyncIterator[AsyncTestClient]:
        """An ``AsyncTestClient`` for ``app``, with lifespan started for the test.

        Async tests that use it are run by anyio's pytest plugin (installed with anyio),
        because this fixture depends on its ``anyio_backend`` fixture; no other plugin
        is needed. The app runs on asyncio, so other backends are skipped.
        """
        backend = anyio_backend if isinstance(anyio_backend, str) else None
        if backend is None and isinstance(anyio_backend, tuple) and anyio_backend:
            backend = anyio_backend[0]
        if backend != "asyncio":
            pytest.skip(f"AsyncTestClient runs on asyncio, not {anyio_backend!r}")
        async with AsyncTestClient(app) as test_client:
            yield test_client

"""Kettle: the application — registration (inherited from Router), finalize and dispatch."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

import click

from ._compiler import Compiler, Endpoint, PathEntry
from ._trie import PathTable
from .config import Config
from .converters import Converter, default_converters
from .datastructures import State
from .exceptions import BadRequest, NotFound, SetupError, URITooLong
from .handlers import ThreadRunner, describe, is_async_callable
from .routing import RouteInfo, Router
from .security._install import install_security
from .security.hosts import TrustedHosts
from .servers.asgi import ASGIApp
from .servers.rsgi import RSGIApp
from .sessions import install_sessions
from .staticfiles import install_default_static
from .urls import UrlRule, build_url

if TYPE_CHECKING:
    from .requests import Request
    from .security.csrf import CSRFProtection
    from .security.headers import SecurityHeaders
    from .security.proxies import ProxyTrust
    from .templating import TemplateName
    from .testing import AsyncTestClient, TestClient

__all__ = ["Kettle"]

F = TypeVar("F", bound=Callable[..., Any])
LifespanFactory = Callable[["Kettle"], contextlib.AbstractAsyncContextManager[Any]]
_SAFE_REDIRECT_METHODS = frozenset({"GET", "HEAD"})


class Kettle(ASGIApp, RSGIApp, Router):
    """A kettle application: an ASGI app and the root :class:`Router`.

    ``Kettle(__name__)`` reads settings into :attr:`config` from a TOML file
    (``config_file=`` or ``KETTLE_CONFIG_FILE``), then ``KETTLE_*`` environment variables;
    ``config=`` and ``debug=`` override both. Register routes, middleware and routers, then
    serve it with any ASGI server (``kettle run module:app``). The app compiles itself on
    the first request (or :meth:`finalize`); registering anything after that is an error.
    """

    def __init__(
        self,
        import_name: str = "__main__",
        *,
        config: Mapping[str, Any] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        debug: bool | None = None,
        template_folder: str | os.PathLike[str] | None = "templates",
        static_folder: str | os.PathLike[str] | None = "static",
        static_url_path: str = "/static",
    ) -> None:
        super().__init__(
            name=None,
            import_name=import_name,
            template_folder=template_folder,
            static_folder=static_folder,
            static_url_path=static_url_path,
        )
        self.config = Config()
        # Later sources win: defaults, the TOML file, KETTLE_* variables, then arguments.
        config_file = config_file or os.environ.get("KETTLE_CONFIG_FILE")
        if config_file:
            self.config.from_toml(config_file, section=None)
        self.config.from_env()
        self.config.pop("CONFIG_FILE", None)
        if config:
            self.config.from_mapping(config)
        if debug is not None:
            self.config["DEBUG"] = debug
        #: App-wide state shared by all requests (connections, clients, caches).
        self.state = State()
        #: The app's own commands: ``@app.cli.command()`` adds ``kettle <command>`` (the
        #: ``kettle`` CLI finds the app with ``--app`` or ``KETTLE_APP``).
        self.cli = click.Group(name=import_name, help=f"Commands of {import_name}.")
        #: Extensions by name (``"sessions"``, ``"login"``, ``"db"``, ``"templates"``): the
        #: objects behind ``req.session``, ``req.user``, ``req.db`` and ``render_template``.
        self.extensions: dict[str, Any] = {}
        #: Converters available to path patterns by name; extend with :meth:`add_converter`.
        self.converters: dict[str, type[Converter]] = default_converters()
        self._startup: list[Callable[[], Any]] = []
        self._shutdown: list[Callable[[], Any]] = []
        self._lifespans: list[LifespanFactory] = []
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._lifespan_users = 0
        # Whether this app froze the collector's heap at startup (servers/_common.py).
        self._heap_frozen = False
        self._lock = threading.Lock()
        self._finalized = False
        self._runner = ThreadRunner(1)
        self._static: dict[str, PathEntry] = {}
        self._table: PathTable[PathEntry] = PathTable()
        self._names: dict[str, list[UrlRule]] = {}
        self._fallbacks: list[tuple[str, Endpoint, Endpoint]] = []
        self._mounted: list[tuple[str, Endpoint]] = []
        self._infos: list[RouteInfo] = []
        self._max_path = 0
        self._max_headers = 0
        self._max_head = 0
        self._strict_slashes = False
        #: The app-wide security headers: ``None`` builds the defaults at finalize (unless
        #: ``SECURITY_HEADERS`` is off), ``False`` turns them off, or set a
        #: :class:`~kettle.security.SecurityHeaders` of your own.
        self.security_headers: SecurityHeaders | Literal[False] | None = None
        #: The CSRF check on unsafe methods: ``None`` builds it from the ``CSRF_*`` settings
        #: at finalize, ``False`` turns it off, or set a
        #: :class:`~kettle.security.CSRFProtection` of your own.
        self.csrf: CSRFProtection | Literal[False] | None = None
        # Resolved by install_security at finalize, read by the server adapters.
        self._security_headers: SecurityHeaders | None = None
        self._api_headers: tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]] | None = None
        self._csrf_protection: CSRFProtection | None = None
        self._hosts = TrustedHosts()
        self._known_hosts: dict[bytes, None] = self._hosts.known
        self._proxies: ProxyTrust | None = None
        self._root_fallback: Endpoint  # set by finalize

    @property
    def debug(self) -> bool:
        """Whether debug mode is on (tracebacks in error pages, an ephemeral secret key)."""
        return bool(self.config["DEBUG"])

    # -- registration that only the app has --------------------------------------------

    def add_converter(self, name: str, converter: type[Converter]) -> None:
        """Make ``<name:param>`` available in path patterns."""
        self._check_open(f"add converter {name!r}")
        if not (isinstance(converter, type) and issubclass(converter, Converter)):
            raise SetupError(f"converter {name!r} must be a Converter subclass")
        self.converters[name] = converter

    def on_startup(self, hook: F) -> F:
        """Run ``hook()`` (sync or async) when the server starts, before any request."""
        self._check_open("add a startup hook")
        self._startup.append(hook)
        return hook

    def on_shutdown(self, hook: F) -> F:
        """Run ``hook()`` when the server shuts down."""
        self._check_open("add a shutdown hook")
        self._shutdown.append(hook)
        return hook

    def lifespan(self, factory: LifespanFactory) -> LifespanFactory:
        """Enter ``factory(app)``, an async context manager, for the life of the server."""
        self._check_open("add a lifespan")
        self._lifespans.append(factory)
        return factory

    # -- finalize ----------------------------------------------------------------------

    def finalize(self) -> None:
        """Compile routes, chains and call plans; called on the first request if not before.

        Configuration errors (a missing ``SECRET_KEY`` in production, a bad size, a handler
        parameter nothing supplies, conflicting routes) surface here, not per request.
        """
        with self._lock:
            if self._finalized:
                return
            self.config.validate()
            self.config.resolve_secret_key()
            install_default_static(self)
            if "sessions" not in self.extensions:
                install_sessions(self)
            install_security(self)
            runner = ThreadRunner(self.config["THREAD_POOL_SIZE"])
            compiler = Compiler(self, runner, self.converters)
            compiler.run()
            self._root_fallback = compiler.fallbacks[-1][1]  # the app's own 404 chain
            self._runner = runner
            self._table = compiler.table
            self._static = compiler.table.static
            self._names = compiler.names
            self._fallbacks = compiler.fallbacks
            self._mounted = compiler.mounts
            self._infos = [RouteInfo(*info) for info in compiler.infos]
            self._max_path = self.config["MAX_PATH_LENGTH"]
            self._max_headers = self.config["MAX_HEADERS"]
            self._max_head = self.config["MAX_HEADER_SIZE"]
            self._strict_slashes = bool(self.config["STRICT_SLASHES"])
            self._finalized = True

    def iter_routes(self) -> list[RouteInfo]:
        """The route table: methods, full path, name and handler of every route."""
        self.finalize()
        return list(self._infos)

    # -- dispatch (sans-IO) --------------------------------------------------------------

    def match(self, req: Request) -> Endpoint:
        """The endpoint for ``req``; sets ``req.route`` and ``req.path_params``.

        Always returns an endpoint: unmatched requests get one whose chain answers 404, 405,
        414 or a trailing-slash redirect through the middleware that covers the path.
        """
        scope = req.scope
        path = scope["path"]
        entry = self._static.get(path)
        if entry is None:
            if len(path) > self._max_path or ("\ufffd" in path and _lossy(scope)):
                return self._fallback(path)[0]
            found = self._table.match_dynamic(path)
            if found is None:
                return self._unmatched(req, path, scope["method"])
            entry, values = found
            endpoint = entry.methods.get(scope["method"])
            if endpoint is None:
                assert entry.not_allowed is not None
                return entry.not_allowed
            req.route = endpoint.route
            req._values = values
            return endpoint
        endpoint = entry.methods.get(scope["method"])
        if endpoint is None:
            assert entry.not_allowed is not None
            return entry.not_allowed
        req.route = endpoint.route
        return endpoint

    def _unmatched(self, req: Request, path: str, method: str) -> Endpoint:
        # No route matches: a mounted app, a trailing-slash redirect, or the 404 chain.
        # Dot segments and NUL never match (the converters refuse them), so they end here.
        not_found, redirect = self._fallback(path)
        if len(path) > self._max_path or "\x00" in path:
            return not_found
        for prefix, mounted in self._mounted:
            if path == prefix or path.startswith(prefix + "/"):
                return mounted
        if not self._strict_slashes and method in _SAFE_REDIRECT_METHODS:
            other = path[:-1] if path.endswith("/") else path + "/"
            # Never a Location starting with "//": browsers read it as another host.
            if other and not other.startswith("//") and self._table.match(other) is not None:
                # The path is decoded text: a "%" in it is data and stays escaped. The
                # query is raw bytes: escaped as bytes, never through latin-1 text.
                location = quote(req.root_path + other, safe="/:@!$&'()*+,;=-._~")
                query = req.scope.get("query_string", b"")
                if query:
                    location += "?" + quote_from_bytes(query, safe="/:@!$&'()*+,;=-._~%?")
                req.path_params = {"location": location}
                return redirect
        return not_found

    def _fallback(self, path: str) -> tuple[Endpoint, Endpoint]:
        for prefix, not_found, redirect in self._fallbacks:
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                return not_found, redirect
        raise AssertionError("the app's own fallback always matches")  # pragma: no cover

    def routing_error(self, req: Request) -> Exception:
        """Why ``req`` matched nothing: 414 for an over-long path, 400 for a NUL, else 404."""
        path = req.path
        if len(path) > self._max_path:
            return URITooLong(f"the path is longer than {self._max_path} characters")
        if "\x00" in path:
            return BadRequest("the path contains a NUL character")
        if "\ufffd" in path and _lossy(req.scope):
            return BadRequest("the path is not valid UTF-8")
        return NotFound()

    # -- URLs --------------------------------------------------------------------------

    def url_for(self, name: str, /, *, _request: Request | None = None, **params: Any) -> str:
        """The URL of the route called ``name``; see :func:`kettle.url_for`."""
        self.finalize()
        return build_url(
            self._names,
            name,
            params,
            request=_request,
            server_name=self.config["SERVER_NAME"],
            default_scheme=self.config["PREFERRED_URL_SCHEME"],
        )

    # -- lifespan ----------------------------------------------------------------------

    async def startup(self) -> None:
        """Finalize, run startup hooks and enter lifespans (the server calls this)."""
        self.finalize()
        if self._exit_stack is not None:
            # A second lifespan on the same app object (two TestClients at once): share
            # the first one's resources; the last shutdown releases them. Without the
            # count, the second would overwrite the first's exit stack and orphan it.
            self._lifespan_users += 1
            return
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        self._exit_stack = stack
        try:
            for factory in self._lifespans:
                await stack.enter_async_context(factory(self))
            for hook in self._startup:
                await _call_hook(hook)
        except BaseException:
            self._exit_stack = None
            await stack.aclose()
            raise
        self._lifespan_users = 1

    async def shutdown(self) -> None:
        """Run shutdown hooks, leave lifespans, stop the thread pool (when the last of
        the running lifespans ends).
        """
        if self._lifespan_users > 1:
            self._lifespan_users -= 1
            return
        self._lifespan_users = 0
        try:
            for hook in self._shutdown:
                await _call_hook(hook)
        finally:
            stack, self._exit_stack = self._exit_stack, None
            try:
                if stack is not None:
                    await stack.aclose()
            finally:
                self._runner.close()

    # -- conveniences ------------------------------------------------------------------

    def render_template(self, name: TemplateName, /, **context: Any) -> str:
        """Render one of this app's templates, inside or outside a request."""
        from .templating import templates_for

        return templates_for(self).render_template(name, **context)

    def test_client(self, **options: Any) -> TestClient:
        """A synchronous in-process client (httpx API); use it as a context manager to run
        the lifespan.
        """
        from .testing import TestClient

        return TestClient(self, **options)

    def async_test_client(self, **options: Any) -> AsyncTestClient:
        """An async in-process client (``httpx.AsyncClient`` API) on the caller's loop."""
        from .testing import AsyncTestClient

        return AsyncTestClient(self, **options)

    def run(self, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
        """Serve the app with uvicorn (development convenience; use ``kettle run`` in
        production).
        """
        try:
            import uvicorn
        except ImportError:
            raise SetupError("uvicorn is not installed: pip install 'kettle[uvicorn]'") from None
        uvicorn.run(self, host=host, port=port, **options)


async def _call_hook(hook: Callable[[], Any]) -> None:
    try:
        result = hook()
        if is_async_callable(hook) or hasattr(result, "__await__"):
            await result
    except Exception as exc:
        raise SetupError(f"lifespan hook {describe(hook)} failed: {exc!r}") from exc


def _lossy(scope: Mapping[str, Any]) -> bool:
    """Whether the server decoded the path with U+FFFD for bytes that are not UTF-8
    (``/a/%ff`` and ``/a/%fe`` would otherwise reach a handler as the same value).
    """
    raw = scope.get("raw_path")
    if not raw:
        return False
    try:
        unquote_to_bytes(raw.partition(b"?")[0]).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False

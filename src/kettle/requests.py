"""The Request: a lazy view over one HTTP request.

Nothing is parsed until it is read: headers, query, cookies, body and form are decoded on
first access and kept. The body is read once and can be read again by middleware and the
handler alike. Size limits are checked before reading (Content-Length) and while reading.

The request is described by a ``scope`` dict shaped like an ASGI HTTP scope (method, path,
query_string, headers, client, scheme, server, root_path); every server adapter builds one,
and subclasses :class:`Request` to supply :meth:`Request._chunks`, the raw body.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgspec

from ._urlencoded import parse_urlencoded
from .cookies import parse_cookie_header
from .datastructures import URL, Address, Headers, MultiDict, State
from .exceptions import BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType
from .negotiation import best_match

if TYPE_CHECKING:
    from .app import Kettle
    from .forms import FormData
    from .routing import Route

__all__ = ["Request"]

_decode_json = msgspec.json.decode
_NO_VALUES: list[Any] = []


class Request:
    """One HTTP request, handed to handlers as ``req``.

    Per-request values live on :attr:`state` (Flask's ``g``); the app is :attr:`app`, the
    matched route :attr:`route` and its converted parameters :attr:`path_params`.
    """

    __slots__ = (
        "_body",
        "_consumed",
        "_cookies",
        "_db",
        "_form",
        "_headers",
        "_params",
        "_query",
        "_receive",
        "_session",
        "_state",
        "_url",
        "_user",
        "_values",
        "app",
        "error",
        "route",
        "scope",
    )

    def __init__(self, scope: dict[str, Any], receive: Any, app: Kettle) -> None:
        self.scope = scope
        self._receive = receive
        self.app = app
        #: Set by routing: the matched route (``None`` for 404s).
        self.route: Route | None = None
        # Converted path parameter values in pattern order; the dict is built on demand.
        self._values: list[Any] = _NO_VALUES
        self._params: dict[str, Any] | None = None
        #: The exception an error handler turned into the response, if any.
        self.error: BaseException | None = None
        self._headers: Headers | None = None
        self._query: MultiDict[str] | None = None
        self._cookies: dict[str, str] | None = None
        self._body: bytes | None = None
        self._form: FormData | None = None
        self._state: State | None = None
        self._url: URL | None = None
        self._consumed = False
        # Filled on first use by the app's extensions (sessions, login, db).
        self._session: Any = None
        self._user: Any = None
        self._db: Any = None

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"

    @property
    def path_params(self) -> dict[str, Any]:
        """The matched route's parameters by name, converted: ``{"id": 42}``."""
        params = self._params
        if params is None:
            names = self.route.param_names if self.route is not None else ()
            params = self._params = dict(zip(names, self._values, strict=False))
        return params

    @path_params.setter
    def path_params(self, params: dict[str, Any]) -> None:
        self._params = params

    # -- the request line ------------------------------------------------------------

    @property
    def method(self) -> str:
        """The HTTP method, upper-case."""
        method: str = self.scope["method"]
        return method

    @property
    def path(self) -> str:
        """The percent-decoded path, without the query string."""
        path: str = self.scope["path"]
        return path

    @property
    def root_path(self) -> str:
        """The prefix the app is mounted under (``""`` at the root)."""
        root: str = self.scope.get("root_path", "")
        return root

    @property
    def scheme(self) -> str:
        """``http`` or ``https`` as the server saw it."""
        scheme: str = self.scope.get("scheme", "http")
        return scheme

    @property
    def host(self) -> str:
        """The ``Host`` header, or the server's address when there is none."""
        host = self.headers.get("host")
        if host:
            return host
        server = self.scope.get("server")
        if server:
            name, port = server
            default = 443 if self.scheme == "https" else 80
            return name if port in (None, default) else f"{name}:{port}"
        return "localhost"

    @property
    def url(self) -> URL:
        """The full URL: scheme, host, root path, path and query."""
        url = self._url
        if url is None:
            from urllib.parse import quote

            path = quote(self.root_path + self.path, safe="/:@!$&'()*+,;=-._~")
            if not path.startswith("/"):
                # A target such as "@evil.com", which some servers pass on as the path,
                # would otherwise become the URL's user info and host.
                path = "/" + path
            query = self.scope.get("query_string", b"").decode("latin-1")
            url = self._url = URL(
                f"{self.scheme}://{self.host}{path}" + (f"?{query}" if query else "")
            )
        return url

    @property
    def client(self) -> Address | None:
        """The peer's ``(host, port)``; ``None`` when the server does not say."""
        client = self.scope.get("client")
        return Address(client[0], client[1]) if client else None

    # -- headers, query, cookies ---------------------------------------------------------

    @property
    def headers(self) -> Headers:
        """Request headers: case-insensitive, multi-valued."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers(self.scope["headers"])
        return headers

    @property
    def query(self) -> MultiDict[str]:
        """Query parameters; ``getlist`` for repeated keys. A bad escape is a 400."""
        query = self._query
        if query is None:
            limit = self.app.config["MAX_QUERY_PARAMS"]
            query = self._query = MultiDict(
                parse_urlencoded(self.scope.get("query_string", b""), limit)
            )
        return query

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client (the first of duplicate names wins)."""
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = parse_cookie_header("; ".join(self.headers.getlist("cookie")))
        return cookies

    @property
    def state(self) -> State:
        """A per-request attribute bag (Flask's ``g``)."""
        state = self._state
        if state is None:
            state = self._state = State()
        return state

    @property
    def content_type(self) -> str:
        """The media type of the body without parameters, lower-case (``""`` if none)."""
        value = self.headers.get("content-type") or ""
        return value.partition(";")[0].strip().lower()

    @property
    def is_json(self) -> bool:
        """Whether the body is declared as JSON (``application/json`` or ``*/*+json``)."""
        ctype = self.content_type
        return ctype == "application/json" or (
            ctype.startswith("application/") and ctype.endswith("+json")
        )

    @property
    def content_length(self) -> int | None:
        """The declared body size; a malformed or conflicting value is a 400."""
        values = self.headers.getlist("content-length")
        if not values:
            return None
        if len(values) > 1:  # even identical copies: a smuggling signal (SECURITY.md #10)
            raise BadRequest("more than one Content-Length header")
        value = values[0].strip()
        if not (value.isascii() and value.isdigit()):
            raise BadRequest("invalid Content-Length header")
        return int(value)

    def accepts(self, *media_types: str) -> str | None:
        """The best of ``media_types`` by the ``Accept`` header, or ``None`` if none fit.

        ``req.accepts("text/html", "application/json")`` — like Express's ``req.accepts``.
        A request without ``Accept`` accepts anything (the first type is returned).
        """
        return best_match(self.headers.get("accept"), media_types)

    # -- what extensions provide ---------------------------------------------------------

    def _extension(self, name: str, needs: str) -> Any:
        extension = self.app.extensions.get(name)
        if extension is None:
            raise RuntimeError(f"req.{name.rstrip('s')} needs {needs}")
        return extension

    @property
    def session(self) -> Any:
        """The session: a dict that knows when it changed (loaded on first use)."""
        session = self._session
        if session is None:
            interface = self._extension(
                "sessions", "sessions, which SESSION_BACKEND='none' turned off"
            )
            session = self._session = interface.open(self)
        return session

    @property
    def user(self) -> Any:
        """The logged-in user, or an anonymous user (needs ``kettle.auth.LoginManager``)."""
        user = self._user
        if user is None:
            manager = self._extension("login", "a LoginManager: kettle.auth.LoginManager(app)")
            user = self._user = manager.user_for(self)
        return user

    @user.setter
    def user(self, user: Any) -> None:
        self._user = user

    @property
    def db(self) -> Any:
        """The request's database session (needs ``kettle.db.Database(app, url)``);
        committed when the response is a success, rolled back otherwise.
        """
        db = self._db
        if db is None:
            database = self._extension("db", "a database: kettle.db.Database(app, url)")
            db = self._db = database.session_for(self)
        return db

    def url_for(self, name: str, /, **params: Any) -> str:
        """Build the URL of the route called ``name`` (see :func:`kettle.url_for`)."""
        return self.app.url_for(name, _request=self, **params)

    # -- the body ---------------------------------------------------------------------

    @property
    def max_body_size(self) -> int:
        """The body limit for this request: the route's own, else the app's."""
        route = self.route
        if route is not None and route.max_body_size is not None:
            return route.max_body_size
        limit: int = self.app.config["MAX_BODY_SIZE"]
        return limit

    async def _chunks(self, deadline: list[float] | None) -> AsyncIterator[bytes]:
        """The raw body as the server delivers it; server adapters implement this.

        ``deadline[0]`` is a loop time after which waiting for the next piece raises
        :class:`TimeoutError` (``None``: no deadline); the caller may move it while the
        generator is suspended, so it is read before every wait.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot read a body")
        yield b""  # type: ignore[unreachable]  # makes this an async generator

    async def stream(self) -> AsyncIterator[bytes]:
        """The body in chunks as they arrive, limited by :attr:`max_body_size`.

        Once the body has been read with :meth:`body`, this yields it again as one chunk.
        """
        if self._body is not None:
            if self._body:
                yield self._body
            return
        if self._consumed:
            raise RuntimeError(
                "the request body was already streamed; use await req.body() to keep it"
            )
        self._consumed = True
        limit = self.max_body_size
        declared = self.content_length
        if declared is not None and declared > limit:
            raise PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")
        received = 0
        # A deadline for the whole body, not per read: a client trickling a byte every few
        # seconds would keep a per-read timer happy forever (slowloris on the body). Only
        # the time spent waiting for the client counts; the consumer's own time between
        # reads (parsing, writing uploads to disk) moves the deadline on.
        timeout: float | None = self.app.config["BODY_TIMEOUT"]
        clock = asyncio.get_running_loop().time
        deadline = None if timeout is None else [clock() + timeout]
        try:
            async for chunk in self._chunks(deadline):
                received += len(chunk)
                if received > limit:
                    raise PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")
                if deadline is None:
                    yield chunk
                else:
                    paused = clock()
                    yield chunk
                    deadline[0] += clock() - paused
        except TimeoutError:
            raise RequestTimeout(
                f"the request body did not arrive within {timeout:g} seconds",
                {"connection": "close"},
            ) from None

    async def body(self) -> bytes:
        """The whole body as bytes (read once, then kept)."""
        body = self._body
        if body is None:
            chunks = [chunk async for chunk in self.stream()]
            body = self._body = b"".join(chunks)
        return body

    async def json(self) -> Any:
        """The body decoded as JSON; 415 unless the content type is JSON, 400 if invalid."""
        if not self.is_json:
            raise UnsupportedMediaType(
                "expected a JSON body (Content-Type: application/json), "
                f"got {self.content_type or 'none'}"
            )
        body = await self.body()
        if not body:
            raise BadRequest("invalid JSON: the body is empty")
        try:
            return _decode_json(body)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
            raise BadRequest(f"invalid JSON: {exc}") from None

    async def form(self) -> FormData:
        """The body as a form (urlencoded or multipart); files arrive as ``UploadFile``."""
        form = self._form
        if form is None:
            from .forms import FormLimits, parse_form

            config = self.app.config
            overrides = self.route.form_limits if self.route is not None else {}
            limits = FormLimits(
                max_fields=overrides.get("max_fields", config["MAX_FORM_FIELDS"]),
                max_files=overrides.get("max_files", config["MAX_FORM_FILES"]),
                max_part_size=overrides.get("max_part_size", config["MAX_FORM_PART_SIZE"]),
                spool_threshold=config["FORM_SPOOL_THRESHOLD"],
                max_body_size=self.max_body_size,
            )
            form = self._form = await parse_form(
                self.headers.get("content-type") or "", self.stream(), limits
            )
        return form

    async def close(self) -> None:
        """Release what the request holds (uploaded files); servers call it after responding."""
        form = self._form
        if form is not None:
            self._form = None
            await form.close()

"""Cross-Origin Resource Sharing: which other sites' scripts may read kettle's responses.

CORS is off unless an app, a router or a route adds :class:`CORS`. Browsers send an
``Origin`` header with cross-origin requests; when that origin is on the list, the middleware
answers with ``Access-Control-Allow-Origin`` naming it, and the browser lets the page read
the response. Requests a page cannot make by itself (a ``PUT``, a JSON body, a custom
header) are announced by a *preflight* ``OPTIONS`` request, which the middleware answers
itself, without calling the handler.

Every fixed header is encoded when the middleware is built: per request the work is one
scan of the raw header names when there is no ``Origin`` (the usual case), else one dict
lookup (or one regex match) and a ``list.extend``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from ..exceptions import SetupError
from ..responses import Response, TextResponse

if TYPE_CHECKING:
    from ..pipeline import CallNext
    from ..requests import Request

__all__ = ["CORS"]

RawHeaders = list[tuple[bytes, bytes]]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What a refusal quotes bare; anything else (spaces, controls, long values) as a repr.
_VISIBLE = re.compile(r"[!-~]{1,100}")
#: A serialized origin, lower-cased: scheme://host[:port], nothing after it.
_ORIGIN = re.compile(r"([a-z][a-z0-9+.\-]*)://([a-z0-9\-._~]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?")
_DEFAULT_PORTS: Final = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
#: Request headers a browser may list in a preflight that CORS always lets through (the
#: CORS-safelisted names; ``content-type`` shows up for a JSON body).
_SAFELISTED: Final = frozenset(("accept", "accept-language", "content-language", "content-type"))

_ALLOW_ORIGIN = b"access-control-allow-origin"
_ALLOW_CREDENTIALS = (b"access-control-allow-credentials", b"true")
_ALLOW_METHODS = b"access-control-allow-methods"
_ALLOW_HEADERS = b"access-control-allow-headers"
_ALLOW_PRIVATE_NETWORK = (b"access-control-allow-private-network", b"true")
_EXPOSE_HEADERS = b"access-control-expose-headers"
_MAX_AGE = b"access-control-max-age"
_VARY = b"vary"
_ORIGIN_TOKENS = (b"Origin",)
_PREFLIGHT_TOKENS = (
    b"Origin",
    b"Access-Control-Request-Method",
    b"Access-Control-Request-Headers",
)


def _fail(message: str) -> SetupError:
    return SetupError(f"CORS: {message}")


def _entries(value: Iterable[str] | str, setting: str) -> tuple[str, ...]:
    # A lone string is one entry; iterating it would give its characters.
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise _fail(f"{setting}= takes strings, not {item!r}")
    return items


def _tokens(value: Iterable[str] | str, setting: str, what: str) -> tuple[str, ...]:
    items = _entries(value, setting)
    for item in items:
        if item != "*" and not _TOKEN.fullmatch(item):
            raise _fail(f"{setting}= holds {item!r}, which is not a valid {what} name")
    return items


def _check_origin(origin: str) -> str:
    if origin == "null":
        return origin
    if not origin.isascii():
        raise _fail(f"the origin {origin!r} is not ASCII; write the host in its punycode form")
    lowered = origin.lower()
    found = _ORIGIN.fullmatch(lowered)
    if found is None:
        hint = " (drop the trailing '/')" if _ORIGIN.fullmatch(lowered.rstrip("/")) else ""
        raise _fail(
            f"the origin {origin!r} must be scheme://host[:port], with no path, query, "
            f"user or trailing slash, like 'https://app.example.com'{hint}"
        )
    scheme, _, port = found.groups()
    if port is not None:
        if not 0 < int(port) < 65536:
            raise _fail(f"the port of the origin {origin!r} is out of range")
        if _DEFAULT_PORTS.get(scheme) == port:
            raise _fail(
                f"browsers never send the default port in an origin: write "
                f"{lowered.removesuffix(':' + port)!r}, not {origin!r}"
            )
    return lowered


def _refuse_wildcards(**settings: tuple[str, ...]) -> None:
    for setting, values in settings.items():
        if "*" in values:
            fix = "list the origins (or use origin_regex=)" if setting == "origins" else "list them"
            raise _fail(
                f'{setting}="*" cannot be combined with credentials=True: browsers refuse a '
                "wildcard on credentialed requests, and echoing every origin would let any "
                f"site read your users' data; {fix}"
            )


def _check_max_age(max_age: int | None) -> None:
    if max_age is None:
        return
    if isinstance(max_age, bool) or not isinstance(max_age, int):
        raise _fail(f"max_age= takes whole seconds or None, not {max_age!r}")
    if max_age < 0:
        raise _fail(f"max_age= cannot be negative: {max_age}")


def _show(text: str) -> str:
    # The refusal body quotes what the client sent; keep it short and on one line.
    return text if _VISIBLE.fullmatch(text) else repr(text[:100])


def _merge_vary(raw: RawHeaders, tokens: tuple[bytes, ...]) -> None:
    present: list[bytes] = []
    for name, value in raw:
        if name == _VARY:
            present.extend(token.strip() for token in value.split(b","))
    seen = {token.lower() for token in present}
    if b"*" in seen:
        return  # varies on everything already
    merged: list[bytes] = []
    known: set[bytes] = set()
    for token in (*present, *tokens):
        key = token.lower()
        if token and key not in known:
            known.add(key)
            merged.append(token)
    raw[:] = [pair for pair in raw if pair[0] != _VARY]
    raw.append((_VARY, b", ".join(merged)))


class CORS:
    r"""Middleware letting listed origins read responses: ``app.use(CORS(origins=[...]))``.

    ``origins`` lists exact origins (``"https://app.example.com"``: scheme, host and port,
    no path), or is ``"*"`` for any origin; ``origin_regex`` admits the origins it matches
    *as a whole* (``re.fullmatch`` on the lower-cased origin, so escape the dots:
    ``r"https://[a-z0-9-]+\.example\.com"``). Origins are compared exactly after
    lower-casing: ``https://a.example`` does not admit ``https://a.example.evil.com``,
    ``http://a.example`` or ``https://a.example:8443``. The ``null`` origin (sandboxed
    frames, ``file:`` pages) is admitted only when ``"null"`` is listed itself.

    ``methods`` and ``headers`` are what a preflight may ask for (the CORS-safelisted
    headers ``Accept``, ``Accept-Language``, ``Content-Language`` and ``Content-Type`` are
    always allowed); ``expose_headers`` are the response headers a page may read beyond
    the basic ones; ``max_age`` is how many seconds a browser may cache a preflight
    answer (``None`` sends no ``Access-Control-Max-Age``); ``private_network=True``
    answers Chrome's Private Network Access preflights.

    ``credentials=True`` lets pages send cookies and HTTP authentication and read the
    answers. Such a response is readable only by the one origin it names, so the origin
    is always echoed, never ``*``, and ``"*"`` in ``origins``, ``headers``, ``methods`` or
    ``expose_headers`` is refused with :class:`~kettle.SetupError`: browsers ignore a
    wildcard on a credentialed request, and a server echoing every origin with
    credentials hands every site on the web its users' logged-in data.

    A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is
    answered here with a 204, or with a plain 400 naming the origin, method or header that
    is not allowed; the handler is not called. Other requests with an ``Origin`` go to the
    handler, and its response (an error response too) gets the CORS headers when the
    origin is allowed, and ``Vary: Origin`` in every case. A response that already carries
    ``Access-Control-Allow-Origin`` (set by the handler, or by a CORS on a route or router
    inside this one) keeps its own CORS headers. Preflights are answered by the outermost
    instance on the path, so give each part of the site one CORS rather than nesting them.
    For CORS on a single route (``middleware=[CORS(...)]``), list ``OPTIONS`` among the
    route's methods: kettle's automatic ``OPTIONS`` answer does not run a route's own
    middleware, so the preflight would not reach it.
    """

    __slots__ = (
        "_any",
        "_exact",
        "_headers",
        "_methods",
        "_preflight_tail",
        "_private_network",
        "_regex",
        "_star",
        "_tail",
    )

    def __init__(
        self,
        *,
        origins: Iterable[str] | str = (),
        origin_regex: str | None = None,
        methods: Iterable[str] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"),
        headers: Iterable[str] = (),
        expose_headers: Iterable[str] = (),
        credentials: bool = False,
        max_age: int | None = 600,
        private_network: bool = False,
    ) -> None:
        listed = _entries(origins, "origins")
        method_names = tuple(m.upper() for m in _tokens(methods, "methods", "method"))
        header_names = _tokens(headers, "headers", "header")
        exposed = _tokens(expose_headers, "expose_headers", "header")
        if credentials:
            _refuse_wildcards(
                origins=listed, methods=method_names, headers=header_names, expose_headers=exposed
            )
        _check_max_age(max_age)
        self._regex: re.Pattern[str] | None = None
        if origin_regex is not None:
            try:
                self._regex = re.compile(origin_regex)
            except (re.error, TypeError) as exc:
                raise _fail(f"origin_regex= {origin_regex!r} is not a valid regex: {exc}") from None
        if not listed and self._regex is None:
            raise _fail("give origins= or origin_regex=; as it is, no origin is allowed")
        self._any = "*" in listed
        self._private_network = bool(private_network)
        # None: any method / any header, echoed back from the preflight.
        self._methods = None if "*" in method_names else frozenset(method_names)
        self._headers = (
            None if "*" in header_names else _SAFELISTED | {h.lower() for h in header_names}
        )
        tail: RawHeaders = []
        if credentials:
            tail.append(_ALLOW_CREDENTIALS)
        if exposed:
            tail.append((_EXPOSE_HEADERS, ", ".join(dict.fromkeys(exposed)).encode()))
        self._tail = tail
        # PERF: the whole header block of each listed origin is built here; a request
        # from a listed origin costs one dict lookup and one list.extend.
        self._exact: dict[str, RawHeaders] = {}
        for origin in listed:
            if origin != "*":
                key = _check_origin(origin)
                self._exact[key] = [(_ALLOW_ORIGIN, key.encode()), *tail]
        # The block for any origin when origins="*" (never with credentials, checked above).
        self._star: RawHeaders = [(_ALLOW_ORIGIN, b"*"), *tail]
        preflight: RawHeaders = []
        if self._methods is not None and method_names:
            preflight.append((_ALLOW_METHODS, ", ".join(dict.fromkeys(method_names)).encode()))
        if max_age is not None:
            preflight.append((_MAX_AGE, str(max_age).encode()))
        if credentials:
            preflight.append(_ALLOW_CREDENTIALS)
        vary: tuple[bytes, ...] = _PREFLIGHT_TOKENS
        if private_network:
            vary = (*vary, b"Access-Control-Request-Private-Network")
        preflight.append((_VARY, b", ".join(vary)))
        self._preflight_tail = preflight

    def _block(self, origin: str) -> RawHeaders | None:
        """The headers granting ``origin``, or ``None`` when it is not allowed."""
        block = self._exact.get(origin)
        if block is not None:
            return block
        lowered = origin.lower()
        if lowered != origin:
            block = self._exact.get(lowered)
            if block is not None:
                return block
        if lowered == "null":
            return None  # admitted only by the exact entry "null", looked up above
        if self._any:
            return self._star
        regex = self._regex
        # The shape check first: a pattern like "https://.+" must not admit a value
        # holding a path, spaces or control characters, which would then be echoed.
        if regex is not None and _ORIGIN.fullmatch(lowered) and regex.fullmatch(lowered):
            return [(_ALLOW_ORIGIN, lowered.encode()), *self._tail]
        return None

    async def __call__(self, req: Request, call_next: CallNext) -> Response:
        """Answer a preflight, or add the CORS headers to the handler's response."""
        # PERF: a request without Origin (same-origin, or not from a browser) costs this
        # one scan of the raw header names and nothing else. req.headers would first
        # decode every header into its index: ten times the cost when nothing else reads
        # headers. Scopes carry lower-case names (ASGI requires it; kettle's adapters and
        # test client follow it).
        for name, value in req.scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
                break
        else:
            return await call_next(req)
        if req.method == "OPTIONS":
            requested = req.headers.get("access-control-request-method")
            if requested is not None:
                return self._preflight(req, origin, requested)
        block = self._block(origin)
        response = await call_next(req)
        raw = response.raw_headers
        # PERF: one pass over the response's few header names finds a Vary to merge with
        # and CORS headers set further in; usually neither is there.
        vary = granted = False
        for name, _ in raw:
            if name == _VARY:
                vary = True
            elif name == _ALLOW_ORIGIN:
                granted = True
        if block is not None and not granted:
            raw.extend(block)
        if vary:
            _merge_vary(raw, _ORIGIN_TOKENS)
        else:
            raw.append((_VARY, b"Origin"))
        return response

    def _preflight(self, req: Request, origin: str, method: str) -> Response:
        block = self._block(origin)
        if block is None:
            return self._refuse(f"origin {_show(origin)} is not allowed")
        problems: list[str] = []
        allowed_methods = self._methods
        if not _TOKEN.fullmatch(method) or (
            allowed_methods is not None and method not in allowed_methods
        ):
            problems.append(f"method {_show(method)} is not allowed")
        asked = req.headers.get("access-control-request-headers", "")
        names = [name.strip().lower() for name in asked.split(",")]
        names = [name for name in names if name]
        allowed_headers = self._headers
        refused = [
            name
            for name in names
            if not _TOKEN.fullmatch(name)
            or (allowed_headers is not None and name not in allowed_headers)
        ]
        if refused:
            listing = ", ".join(_show(name) for name in refused)
            verb = "is" if len(refused) == 1 else "are"
            problems.append(f"header{'s' if len(refused) > 1 else ''} {listing} {verb} not allowed")
        if problems:
            return self._refuse("; ".join(problems))
        response = Response(None, 204)
        raw = response.raw_headers
        # The allow-origin pair only: expose-headers means nothing on a preflight.
        raw.append(block[0])
        if allowed_methods is None:
            raw.append((_ALLOW_METHODS, method.encode()))
        if names:
            # Every name matched _TOKEN above, so echoing them cannot split a header.
            raw.append((_ALLOW_HEADERS, ", ".join(dict.fromkeys(names)).encode()))
        raw.extend(self._preflight_tail)
        if (
            self._private_network
            and req.headers.get("access-control-request-private-network", "").lower() == "true"
        ):
            raw.append(_ALLOW_PRIVATE_NETWORK)
        return response

    def _refuse(self, reason: str) -> Response:
        response = TextResponse(f"CORS preflight refused: {reason}", 400)
        response.raw_headers.append(self._preflight_tail[-1])  # the Vary pair
        return response

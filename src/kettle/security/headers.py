"""Security headers: Helmet 8's set for documents, OWASP's lean set for everything else.

Most of Helmet's headers only mean something to a browser rendering a document, so
:class:`SecurityHeaders` sends the full set with HTML responses (``text/html``,
``application/xhtml+xml``) and the set the OWASP REST Security Cheat Sheet recommends with
every other response: ``nosniff``, ``frame-ancestors 'none'``, ``X-Frame-Options: DENY``,
and HSTS on https. Every header costs throughput on the server, so JSON answers stay lean.

The four header blocks (document or not, http or https) are encoded once, when the
middleware is built; a request costs a scan of the response's few header names and one
``list.extend``. Nothing is formatted per request.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

from ..datastructures import MutableHeaders
from ..exceptions import SetupError

if TYPE_CHECKING:
    from ..pipeline import CallNext
    from ..requests import Request
    from ..responses import Response

__all__ = ["DEFAULT_API_HEADERS", "DEFAULT_CSP", "SecurityHeaders", "security_headers"]

RawHeaders = list[tuple[bytes, bytes]]
#: The sources of one CSP directive: a list, a space-separated string, or ``True``/``()``
#: for a directive without sources; ``None``/``False`` drops the directive.
Sources = Iterable[str] | str | bool | None
#: A directive mapping (merged over the defaults), a whole policy string, or off.
CSPSetting = Mapping[str, Sources] | str | Literal[False] | None

#: Helmet 8's Content-Security-Policy, directive by directive.
DEFAULT_CSP: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "default-src": ("'self'",),
        "base-uri": ("'self'",),
        "font-src": ("'self'", "https:", "data:"),
        "form-action": ("'self'",),
        "frame-ancestors": ("'self'",),
        "img-src": ("'self'", "data:"),
        "object-src": ("'none'",),
        "script-src": ("'self'",),
        "script-src-attr": ("'none'",),
        "style-src": ("'self'", "https:", "'unsafe-inline'"),
        "upgrade-insecure-requests": (),
    }
)

#: The OWASP REST API set, sent with every response that is not a document (HSTS is added
#: on https from the ``hsts`` setting).
DEFAULT_API_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "frame-ancestors 'none'",
        "X-Frame-Options": "DENY",
    }
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SOURCE_LISTS = _words(
    "default-src script-src script-src-elem script-src-attr style-src style-src-elem "
    "style-src-attr img-src font-src connect-src media-src object-src frame-src child-src "
    "worker-src manifest-src prefetch-src fenced-frame-src base-uri form-action "
    "frame-ancestors"
)
_VALUELESS = frozenset(("upgrade-insecure-requests", "block-all-mixed-content"))
_OTHER = _words("sandbox report-uri report-to require-trusted-types-for trusted-types webrtc")
_DIRECTIVES = _SOURCE_LISTS | _VALUELESS | _OTHER
_KEYWORDS = _words(
    "'self' 'none' 'unsafe-inline' 'unsafe-eval' 'strict-dynamic' 'unsafe-hashes' "
    "'report-sample' 'unsafe-allow-redirects' 'wasm-unsafe-eval' 'inline-speculation-rules' "
    "'trusted-types-eval'"
)
_BARE_KEYWORDS = frozenset(keyword.strip("'") for keyword in _KEYWORDS)
_NONCE_OR_HASH = re.compile(r"'(?:nonce|sha256|sha384|sha512)-[A-Za-z0-9+/_-]+={0,2}'")
_UNQUOTED_NONCE = re.compile(r"(?:nonce|sha256|sha384|sha512)-", re.IGNORECASE)
_VISIBLE = re.compile(r"[!-~]+")
_SANDBOX = _words(
    "allow-downloads allow-forms allow-modals allow-orientation-lock allow-pointer-lock "
    "allow-popups allow-popups-to-escape-sandbox allow-presentation allow-same-origin "
    "allow-scripts allow-storage-access-by-user-activation allow-top-navigation "
    "allow-top-navigation-by-user-activation allow-top-navigation-to-custom-protocols"
)
_REFERRER = _words(
    "no-referrer no-referrer-when-downgrade origin origin-when-cross-origin same-origin "
    "strict-origin strict-origin-when-cross-origin unsafe-url"
)
_CHOICES: Final[Mapping[str, frozenset[str]]] = {
    "coop": frozenset(
        ("same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none")
    ),
    "corp": frozenset(("same-origin", "same-site", "cross-origin")),
    "frame_options": frozenset(("DENY", "SAMEORIGIN")),
    "dns_prefetch_control": frozenset(("off", "on")),
    "permitted_cross_domain_policies": frozenset(
        ("none", "master-only", "by-content-type", "by-ftp-filename", "all")
    ),
}
_HSTS = re.compile(r"max-age=\d+(?:; *includeSubDomains)?(?:; *preload)?", re.IGNORECASE)
_HTML_TYPES = (b"text/html", b"application/xhtml+xml")
#: The key under which the instance that dressed a response records it in the scope.
_MARK = "kettle.security_headers"
_HSTS_NAME = b"strict-transport-security"


def _fail(message: str) -> SetupError:
    return SetupError(f"SecurityHeaders: {message}")


def _check_source(directive: str, source: str) -> None:
    for bad, label in ((";", "';'"), (",", "','"), ("\n", "a newline"), ("\r", "a CR")):
        if bad in source:
            raise _fail(f"the source {source!r} of {directive} contains {label}")
    if not _VISIBLE.fullmatch(source):
        raise _fail(f"the source {source!r} of {directive} holds a space or a non-ASCII character")
    if directive not in _SOURCE_LISTS:
        return
    if source.startswith("'") or source.endswith("'"):
        if source in _KEYWORDS or _NONCE_OR_HASH.fullmatch(source):
            return
        if len(source) < 2 or not (source.startswith("'") and source.endswith("'")):
            raise _fail(f"the source {source!r} of {directive} is missing a quote")
        raise _fail(f"unknown keyword {source!r} in {directive}")
    if source.lower() in _BARE_KEYWORDS or _UNQUOTED_NONCE.match(source):
        raise _fail(f"the keyword {source!r} in {directive} must be quoted: \"'{source}'\"")


def _check_directive(name: str, sources: tuple[str, ...]) -> None:
    if name not in _DIRECTIVES:
        close = difflib.get_close_matches(name, _DIRECTIVES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(f"unknown CSP directive {name!r}{hint}")
    if name in _VALUELESS and sources:
        raise _fail(f"the CSP directive {name} takes no sources, got {list(sources)}")
    for source in sources:
        _check_source(name, source)
    if "'none'" in sources and len(sources) > 1:
        raise _fail(f"'none' in {name} cannot be combined with other sources")
    if name == "sandbox":
        for token in sources:
            if token not in _SANDBOX:
                raise _fail(f"unknown sandbox token {token!r}")


def _sources(name: str, value: Sources) -> tuple[str, ...] | None:
    if value is None or value is False:
        return None
    if value is True:
        return ()
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise _fail(f"the sources {value!r} of {name} contain a newline")
        return tuple(source for source in value.split(" ") if source)
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise _fail(f"the sources of {name} must be strings, not {item!r}")
    return items


def _parse_policy(policy: str) -> dict[str, tuple[str, ...]]:
    if "\n" in policy or "\r" in policy:
        raise _fail(f"the CSP {policy!r} contains a newline")
    directives: dict[str, tuple[str, ...]] = {}
    for part in policy.split(";"):
        name, *sources = part.split() or [""]
        if not name:
            continue
        if name.lower() in directives:
            raise _fail(f"the CSP directive {name.lower()} is given twice")
        directives[name.lower()] = tuple(sources)
    return directives


def resolve_csp(
    setting: CSPSetting, base: Mapping[str, tuple[str, ...]] = DEFAULT_CSP
) -> dict[str, tuple[str, ...]] | None:
    """The validated directives of a ``csp=`` setting (a mapping is merged over ``base``).

    Raises :class:`~kettle.SetupError` naming the first problem found.
    """
    if setting is None or setting is False:
        return None
    if isinstance(setting, str):
        directives = _parse_policy(setting)
    elif isinstance(setting, Mapping):
        directives = dict(base)
        for name, value in setting.items():
            if not isinstance(name, str) or name != name.strip().lower():
                raise _fail(f"CSP directive names are lower-case strings, not {name!r}")
            sources = _sources(name, value)
            if sources is None:
                directives.pop(name, None)
            else:
                directives[name] = sources
    else:
        raise _fail(f"csp= takes a mapping, a string, None or False, not {setting!r}")
    for name, sources in directives.items():
        _check_directive(name, sources)
    if not directives:
        raise _fail("the CSP has no directives (pass csp=None to turn it off)")
    return directives


def format_csp(directives: Mapping[str, tuple[str, ...]]) -> str:
    """The header value of ``directives``: ``"default-src 'self'; ..."``."""
    return "; ".join(" ".join((name, *sources)) for name, sources in directives.items())


def _choice(setting: str, value: str | bool | None) -> str | None:
    if value is None or value is False:
        return None
    allowed = _CHOICES[setting]
    text = value.upper() if setting == "frame_options" and isinstance(value, str) else value
    if text not in allowed:
        raise _fail(f"{setting}= takes one of {sorted(allowed)} or None, not {value!r}")
    return str(text)


def _hsts(value: str | int | bool | None) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return "max-age=31536000; includeSubDomains"
    if isinstance(value, int):
        if value < 0:
            raise _fail(f"hsts= max-age cannot be negative: {value}")
        return f"max-age={value}; includeSubDomains"
    if not isinstance(value, str) or not _HSTS.fullmatch(value.strip()):
        raise _fail(
            f"hsts= takes seconds, True, None or 'max-age=N[; includeSubDomains]': {value!r}"
        )
    return value.strip()


def _referrer(value: str | Iterable[str] | bool | None) -> str | None:
    if value is None or value is False:
        return None
    tokens = [value] if isinstance(value, str) else list(value)  # type: ignore[arg-type]
    for token in tokens:
        if token not in _REFERRER:
            raise _fail(f"unknown referrer_policy {token!r}; one of {sorted(_REFERRER)}")
    return ", ".join(tokens)


def _encode(pairs: Iterable[tuple[str, str]], what: str) -> RawHeaders:
    scratch = MutableHeaders([])
    for name, value in pairs:
        try:
            scratch[name] = value  # lower-cases the name, refuses CR/LF/NUL
        except (ValueError, TypeError, UnicodeError) as exc:
            raise _fail(f"bad header in {what}: {name!r}: {value!r} ({exc})") from None
    return scratch.raw


class SecurityHeaders:
    """Middleware adding security headers: ``app.use(SecurityHeaders())``.

    HTML responses get Helmet 8's set, every other response the OWASP REST API set
    (``api_headers``); HSTS is sent only when ``req.scheme == "https"``. Each keyword sets
    one header; ``None`` or ``False`` turns it off. ``csp`` takes a mapping of directives
    merged over :data:`DEFAULT_CSP` (a directive mapped to ``None`` is dropped), a whole
    policy string, or ``None``; directives and sources are checked here, so a typo stops the
    app from starting with a :class:`~kettle.SetupError`. ``extra`` adds headers to HTML
    responses; ``api_headers`` is a mapping for the other responses, ``"full"`` to send them
    the HTML set too, or ``None`` for HSTS alone.

    A header the handler (or an inner middleware) already set is left as it is. For a
    router or a route, use another instance (``router.use(...)``, ``middleware=[...]``,
    see :meth:`replace` and :func:`security_headers`): the innermost instance dresses the
    response, and the instances around it leave that response alone.
    """

    __slots__ = ("_blocks", "_directives", "_settings", "_watched", "blocks_by_type")

    #: How many content types :meth:`dress` remembers the kind of.
    KNOWN_TYPES = 32

    def __init__(
        self,
        *,
        csp: CSPSetting = DEFAULT_CSP,
        coop: str | Literal[False] | None = "same-origin",
        corp: str | Literal[False] | None = "same-origin",
        origin_agent_cluster: bool = True,
        referrer_policy: str | Iterable[str] | Literal[False] | None = "no-referrer",
        hsts: str | int | bool | None = True,
        content_type_options: bool = True,
        dns_prefetch_control: str | Literal[False] | None = "off",
        download_options: bool = True,
        frame_options: str | Literal[False] | None = "SAMEORIGIN",
        permitted_cross_domain_policies: str | Literal[False] | None = "none",
        xss_protection: bool = True,
        extra: Mapping[str, str] | None = None,
        api_headers: Mapping[str, str] | Literal["full", False] | None = DEFAULT_API_HEADERS,
    ) -> None:
        # The arguments as given, for replace() and repr (locals() holds only them here).
        self._settings: dict[str, Any] = {k: v for k, v in locals().items() if k != "self"}
        self._directives = resolve_csp(csp)
        strict = _hsts(hsts)
        # Helmet's order; HSTS is the https-only one.
        document: list[tuple[str, str | None]] = [
            ("Content-Security-Policy", format_csp(self._directives) if self._directives else None),
            ("Cross-Origin-Opener-Policy", _choice("coop", coop)),
            ("Cross-Origin-Resource-Policy", _choice("corp", corp)),
            ("Origin-Agent-Cluster", "?1" if origin_agent_cluster else None),
            ("Referrer-Policy", _referrer(referrer_policy)),
            ("Strict-Transport-Security", strict),
            ("X-Content-Type-Options", "nosniff" if content_type_options else None),
            ("X-DNS-Prefetch-Control", _choice("dns_prefetch_control", dns_prefetch_control)),
            ("X-Download-Options", "noopen" if download_options else None),
            ("X-Frame-Options", _choice("frame_options", frame_options)),
            (
                "X-Permitted-Cross-Domain-Policies",
                _choice("permitted_cross_domain_policies", permitted_cross_domain_policies),
            ),
            ("X-XSS-Protection", "0" if xss_protection else None),
        ]
        extras = _encode((extra or {}).items(), "extra=")
        html_https = _encode([(k, v) for k, v in document if v is not None], "the HTML set")
        html_https += extras
        html = [pair for pair in html_https if pair[0] != _HSTS_NAME]
        if api_headers == "full":
            api, api_https = html, html_https
        else:
            if api_headers is None or api_headers is False:
                api = []
            elif isinstance(api_headers, Mapping):
                api = _encode(api_headers.items(), "api_headers=")
            else:
                raise _fail(f"api_headers= takes a mapping, 'full' or None, not {api_headers!r}")
            api_https = api + [pair for pair in html_https if pair[0] == _HSTS_NAME]
        # Indexed [document][https] per request.
        self._blocks: tuple[tuple[RawHeaders, RawHeaders], ...] = (
            (api, api_https),
            (html, html_https),
        )
        names = {name for block in self._blocks for pairs in block for name, _ in pairs}
        # x-powered-by is watched too, so a mounted or hand-made one is dropped.
        self._watched = frozenset((*names, b"x-powered-by"))
        #: A content-type pair -> the (http, https) blocks of a response whose only
        #: headers are that type and its length; learned by :meth:`dress`, and read by
        #: the ASGI adapter, which dresses such a response without calling it.
        self.blocks_by_type: dict[tuple[bytes, bytes], tuple[RawHeaders, RawHeaders]] = {}

    def header_block(self, *, html: bool, https: bool) -> RawHeaders:
        """A copy of the header pairs sent with HTML or other responses over http(s)."""
        return list(self._blocks[html][https])

    def replace(self, **overrides: Any) -> SecurityHeaders:
        """A new instance with this one's settings and ``overrides`` (for a router or route).

        A ``csp`` mapping merges over this instance's directives, not the defaults.
        """
        csp = overrides.get("csp")
        if isinstance(csp, Mapping) and self._directives is not None:
            overrides["csp"] = format_csp(resolve_csp(csp, self._directives) or {})
        return SecurityHeaders(**{**self._settings, **overrides})

    async def __call__(self, req: Request, call_next: CallNext) -> Response:
        """Add the prebuilt block for the response's kind and the request's scheme."""
        response: Response = await call_next(req)
        scope = req.scope
        # An inner instance (router or route) already dressed this very response.
        marked: object = scope.get(_MARK)
        if marked is response:
            return response
        scope[_MARK] = response
        self.dress(response.raw_headers, req.scheme == "https")
        return response

    def dress(self, raw: RawHeaders, https: bool) -> None:
        """Add the block for the response with header pairs ``raw`` (in place).

        Server adapters call this for the app's own instance, after the error handlers,
        so 404s, 405s and error pages are dressed too.
        """
        if len(raw) == 2:
            # PERF: most responses carry a content type and length only; their kind is
            # remembered per content-type pair, so neither is looked into again.
            first, second = raw
            blocks = self.blocks_by_type.get(first)
            if blocks is not None and second[0] == b"content-length":
                raw.extend(blocks[https])
                return
        html = False
        clash = False
        watched = self._watched
        # PERF: one pass over the response's few header names (two for most responses)
        # finds its kind and any header the handler set; no dict, no string built.
        for name, value in raw:
            if name == b"content-type":
                html = value.startswith(_HTML_TYPES) or (
                    not value.islower() and value.lower().startswith(_HTML_TYPES)
                )
            elif name in watched:
                clash = True
        block = self._blocks[html][https]
        if (
            len(raw) == 2
            and not clash
            and raw[0][0] == b"content-type"
            and raw[1][0] == b"content-length"
            and len(self.blocks_by_type) < self.KNOWN_TYPES
        ):
            self.blocks_by_type[raw[0]] = self._blocks[html]
        if clash:
            present = {name for name, _ in raw}
            if b"x-powered-by" in present:
                raw[:] = [pair for pair in raw if pair[0] != b"x-powered-by"]
            raw.extend(pair for pair in block if pair[0] not in present)
        else:
            # PERF: the prebuilt pairs are shared, immutable tuples; extend copies pointers.
            raw.extend(block)


def security_headers(**overrides: Any) -> SecurityHeaders:
    """A :class:`SecurityHeaders` with the defaults and ``overrides``, for a router or route.

    ``@app.get("/embed", middleware=[security_headers(frame_options=None)])``. It replaces
    the app-wide instance's headers on the responses it handles (they are not combined);
    to start from the app's own settings, use ``app_headers.replace(...)`` instead.
    """
    return SecurityHeaders(**overrides)

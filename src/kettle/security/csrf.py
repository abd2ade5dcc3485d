"""CSRF protection: Fetch Metadata and ``Origin`` first, synchronizer tokens if asked for.

Modern browsers say where a request comes from in ``Sec-Fetch-Site``, a header no page can
forge; older ones send ``Origin`` with every unsafe request. :class:`CSRFProtection` follows
the model of Go 1.25's ``CrossOriginProtection``: for POST, PUT, PATCH, DELETE (any method
but GET, HEAD, OPTIONS and TRACE)

1. ``Sec-Fetch-Site: same-origin`` or ``none`` (typed in the address bar) passes; any other
   value (``same-site``, ``cross-site``, garbage) is refused unless ``Origin`` is trusted;
2. without it, ``Origin`` must be this site's own origin (``req.scheme://req.host``) or a
   trusted one; ``Origin: null`` is refused;
3. with neither header the request did not come from a browser (curl, another server), so
   no cookie was sent on the victim's behalf, and it passes.

An empty header counts as an absent one, as in Go: a browser never sends one. Trusted
origins and exemptions match exactly, never by prefix or pattern, and exemptions are looked
at only when a request is about to be refused, so a passing request pays nothing for them.

With ``tokens=True`` an unsafe request must also carry the token :func:`csrf_token` issued
(in the ``X-CSRF-Token`` header or the ``csrf_token`` form field): defence in depth for
browsers that send neither header. The secret lives in the session; each token is the
secret XOR a fresh random pad, sent with the pad, so no two pages show the same bytes
(BREACH compresses away repeated secrets, a fresh mask defeats it).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .._current import get_current_request
from ..config import _to_bool
from ..exceptions import ConfigError, Forbidden, SetupError

if TYPE_CHECKING:
    from ..requests import Request

__all__ = ["CSRFProtection", "csrf_token"]

_SAFE_METHODS: Final = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
_PASSING_SITES: Final = frozenset(("same-origin", "none"))
_FORM_TYPES: Final = frozenset(("application/x-www-form-urlencoded", "multipart/form-data"))
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

#: Where the session keeps the secret, as urlsafe base64 without padding.
_SESSION_KEY: Final = "_csrf_secret"
_SECRET_SIZE: Final = 32
#: A token is the pad and the masked secret: 64 bytes, 86 base64 characters unpadded.
_TOKEN_CHARS: Final = re.compile(r"[A-Za-z0-9_-]{86}")
_SECRET_CHARS: Final = re.compile(r"[A-Za-z0-9_-]{43}")

_ORIGIN: Final = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://"
    r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: How much of a refused header value a 403 reason shows.
_SHOWN: Final = 80


def _fail(message: str) -> SetupError:
    return SetupError(f"CSRFProtection: {message}")


def _trusted_origin(value: object) -> str:
    """``value`` checked and normalised (lower-case, default port dropped)."""
    if not isinstance(value, str):
        raise _fail(f"trusted origins are strings like 'https://app.example', not {value!r}")
    text = value.strip().lower()
    match = _ORIGIN.fullmatch(text)
    if match is None:
        if "*" in text:
            why = "wildcards are not supported; list every origin"
        elif "://" not in text:
            why = "it needs a scheme: 'https://host'"
        elif "@" in text:
            why = "an origin has no user name"
        elif any(c in text.partition("://")[2] for c in "/?#"):
            why = "an origin has no path, query or fragment (drop any trailing slash)"
        else:
            why = "expected scheme://host[:port] (ASCII host; use punycode)"
        raise _fail(f"bad trusted origin {value!r}: {why}")
    scheme, host, port = match.group("scheme", "host", "port")
    default = _DEFAULT_PORTS.get(scheme)
    if default is None:
        raise _fail(f"bad trusted origin {value!r}: the scheme must be http or https")
    if port is None or int(port) == default:
        return f"{scheme}://{host}"
    if not 0 < int(port) < 65536:
        raise _fail(f"bad trusted origin {value!r}: port {port} is out of range")
    return f"{scheme}://{host}:{int(port)}"


def _exempt_path(value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/") or value != value.strip():
        raise _fail(f"an exemption is a path or route pattern starting with '/', not {value!r}")
    return value


def _normalised(origin: str) -> str:
    """An origin lower-cased and without its scheme's default port."""
    origin = origin.lower()
    if origin.endswith(":80") and origin.startswith("http://"):
        return origin[:-3]
    if origin.endswith(":443") and origin.startswith("https://"):
        return origin[:-4]
    return origin


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN else value[:_SHOWN] + "..."


def _config_list(config: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = config.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        # The form an environment variable gives: "https://a.example, https://b.example".
        return tuple(item.strip() for item in value.split(",") if item.strip())
    if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        items = tuple(value)
        if all(isinstance(item, str) for item in items):
            return items
    raise ConfigError(f"{key} must be a list of strings or a comma-separated string, not {value!r}")


class CSRFProtection:
    """Refuses cross-site unsafe requests: ``await app.csrf.protect(req)``.

    ``trusted_origins`` are other origins allowed to send unsafe requests (exact
    ``scheme://host[:port]`` strings, checked here: a bad one is a
    :class:`~kettle.SetupError`). ``exempt`` lists paths or route patterns (``"/hooks/<name>"``)
    that are never checked; each matches exactly. ``tokens=True`` also requires a
    :func:`csrf_token` in the ``header_name`` header or the ``field_name`` form field.
    """

    __slots__ = ("_exempt", "_field", "_header", "_tokens", "_trusted")

    def __init__(
        self,
        *,
        trusted_origins: Iterable[str] = (),
        exempt: Iterable[str] = (),
        tokens: bool = False,
        field_name: str = "csrf_token",
        header_name: str = "X-CSRF-Token",
    ) -> None:
        if isinstance(trusted_origins, str) or isinstance(exempt, str):
            raise _fail("trusted_origins= and exempt= take a list of strings, not one string")
        self._trusted = frozenset(_trusted_origin(origin) for origin in trusted_origins)
        self._exempt = frozenset(_exempt_path(path) for path in exempt)
        self._tokens = bool(tokens)
        if not isinstance(field_name, str) or not field_name:
            raise _fail(f"field_name= must be a non-empty string, not {field_name!r}")
        if not isinstance(header_name, str) or not _HEADER_NAME.fullmatch(header_name):
            raise _fail(f"header_name= must be a valid header name, not {header_name!r}")
        self._field = field_name
        self._header = header_name.lower()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CSRFProtection:
        """An instance from ``CSRF_TRUSTED_ORIGINS``, ``CSRF_EXEMPT`` (lists, or
        comma-separated strings from the environment) and ``CSRF_TOKENS`` (a boolean).
        """
        tokens = _to_bool("CSRF_TOKENS", config.get("CSRF_TOKENS", False))
        lists: dict[str, tuple[str, ...]] = {}
        for key, check in (
            ("CSRF_TRUSTED_ORIGINS", _trusted_origin),
            ("CSRF_EXEMPT", _exempt_path),
        ):
            lists[key] = _config_list(config, key)
            try:
                for item in lists[key]:
                    check(item)
            except SetupError as exc:
                raise ConfigError(f"{key}: {exc}") from None
        return cls(
            trusted_origins=lists["CSRF_TRUSTED_ORIGINS"],
            exempt=lists["CSRF_EXEMPT"],
            tokens=tokens,
        )

    def __repr__(self) -> str:
        return (
            f"CSRFProtection(trusted_origins={sorted(self._trusted)}, "
            f"exempt={sorted(self._exempt)}, tokens={self._tokens})"
        )

    @property
    def tokens(self) -> bool:
        """Whether unsafe requests must carry a :func:`csrf_token` (``tokens=True``)."""
        return self._tokens

    def _is_trusted(self, origin: str) -> bool:
        trusted = self._trusted
        return origin in trusted or _normalised(origin) in trusted

    def _is_exempt(self, req: Request) -> bool:
        exempt = self._exempt
        if not exempt:
            return False
        route = req.route
        return req.path in exempt or (route is not None and route.path in exempt)

    def rejection(self, req: Request) -> str | None:
        """The header check alone (sync, cheap): ``None`` if ``req`` may pass, else the
        reason to refuse it with a 403.
        """
        # PERF: the scope entry directly; the property costs a call on every POST.
        method: str = req.scope["method"]
        if method in _SAFE_METHODS:
            return None
        headers = req.headers
        site = headers.get("sec-fetch-site")
        if site:
            if site in _PASSING_SITES:
                return None
            # PERF: Origin is read only on the way to a refusal, and only if it could help.
            if self._trusted:
                origin = headers.get("origin")
                if origin and self._is_trusted(origin):
                    return None
            if self._is_exempt(req):
                return None
            if site == "cross-site" or site == "same-site":
                return f"{site} {method} request refused (Sec-Fetch-Site: {site})"
            return f"{method} request refused (unrecognised Sec-Fetch-Site: {_shown(site)!r})"
        origin = headers.get("origin")
        if not origin:
            return None
        if origin != "null":
            # Older browsers only: this path costs a third lookup, of Host (via req.host).
            own = f"{req.scheme}://{req.host}"
            if origin == own or _normalised(origin) == _normalised(own):
                return None
            if self._trusted and self._is_trusted(origin):
                return None
        if self._is_exempt(req):
            return None
        if origin == "null":
            return f"Origin null (an opaque origin) refused for a {method} request"
        return f"Origin {_shown(origin)} does not match this site"

    async def protect(self, req: Request) -> None:
        """Raise :class:`~kettle.Forbidden` if ``req`` must be refused: the header check,
        then, with ``tokens=True``, the synchronizer token.
        """
        reason = self.rejection(req)
        if reason is None and self._tokens and req.method not in _SAFE_METHODS:
            reason = await self._token_rejection(req)
            if reason is not None and self._is_exempt(req):
                reason = None
        if reason is not None:
            raise Forbidden(reason)

    async def _token_rejection(self, req: Request) -> str | None:
        token: object = req.headers.get(self._header)
        if not token and req.content_type in _FORM_TYPES:
            form = await req.form()
            token = form.get(self._field)
        if token is None or token == "":
            return "CSRF token missing"
        secret = _secret(req, create=False)
        if secret is None or not isinstance(token, str) or not _matches(token, secret):
            return "CSRF token invalid"
        return None


def _secret(req: Request, *, create: bool) -> bytes | None:
    """The session's CSRF secret; a new one when there is none and ``create`` is set."""
    try:
        session = req.session
    except RuntimeError as exc:
        raise RuntimeError(f"CSRF tokens are kept in the session, and {exc}") from None
    stored = session.get(_SESSION_KEY)
    if isinstance(stored, str) and _SECRET_CHARS.fullmatch(stored):
        return base64.urlsafe_b64decode(stored + "=")
    if not create:
        return None
    secret = secrets.token_bytes(_SECRET_SIZE)
    session[_SESSION_KEY] = base64.urlsafe_b64encode(secret).rstrip(b"=").decode("ascii")
    return secret


def _xor(a: bytes, b: bytes) -> bytes:
    # PERF: one big-int XOR instead of a per-byte generator (32 bytes either way).
    return (int.from_bytes(a) ^ int.from_bytes(b)).to_bytes(_SECRET_SIZE)


def _matches(token: str, secret: bytes) -> bool:
    """Whether ``token`` unmasks to ``secret``; any malformed token is simply ``False``."""
    if not _TOKEN_CHARS.fullmatch(token):
        return False
    try:
        raw = base64.urlsafe_b64decode(token + "==")
    except (binascii.Error, ValueError):
        return False
    if len(raw) != 2 * _SECRET_SIZE:
        return False
    return hmac.compare_digest(_xor(raw[:_SECRET_SIZE], raw[_SECRET_SIZE:]), secret)


def csrf_token(req: Request | None = None) -> str:
    """A fresh token for a form or a ``fetch`` header, valid for the session of ``req``.

    Without ``req``, the request being served (templates call it so: ``{{ csrf_token() }}``).
    Each call gives different text for the same secret; every one of them verifies. The
    first call of a session stores the secret in it. Works whether or not the app checks
    tokens, so templates can always include it.
    """
    if req is None:
        req = get_current_request()
        if req is None:
            raise RuntimeError(
                "csrf_token() needs a request: call it while one is being served, "
                "or pass it: csrf_token(req)"
            )
    secret = _secret(req, create=True)
    assert secret is not None
    pad = secrets.token_bytes(_SECRET_SIZE)
    return base64.urlsafe_b64encode(pad + _xor(pad, secret)).rstrip(b"=").decode("ascii")

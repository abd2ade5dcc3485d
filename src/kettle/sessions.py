"""Sessions: ``req.session``, a dict that knows when it changed, and where it is kept.

The app's session interface (``app.extensions["sessions"]``) opens the session on the first
read of ``req.session`` and saves it before the response is sent; requests that never touch
the session pay nothing. ``SESSION_BACKEND`` picks the interface: ``"cookie"`` (the default:
the data itself, signed, in the cookie), ``"memory"`` or ``"redis"`` (the data on the server,
a signed random id in the cookie; see :mod:`kettle.session_stores`), or ``"none"``.

Every cookie is signed with itsdangerous and a timestamp: the newest of the app's keys
(``SECRET_KEY``) signs, older ones (``SECRET_KEY_FALLBACKS``) still verify and the cookie is
then re-signed; a cookie older than ``PERMANENT_SESSION_LIFETIME`` is refused although its
signature is valid. A tampered, truncated, expired or garbage cookie is an empty session,
never an error. Data is JSON (msgspec), never pickle.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from .config import _to_bool
from .exceptions import ConfigError, SetupError
from .json import encode_json

if TYPE_CHECKING:
    from .app import Kettle
    from .requests import Request
    from .responses import Response

__all__ = ["Session", "SessionInterface", "install_sessions"]

logger = logging.getLogger("kettle.sessions")

#: ``PERMANENT_SESSION_LIFETIME`` unless configured: 31 days, in seconds.
DEFAULT_LIFETIME = 31 * 24 * 3600
#: Browsers ignore a ``Set-Cookie`` line much longer than this (RFC 6265 asks for 4096
#: bytes per cookie at least, and most browsers stop there).
MAX_COOKIE_SIZE = 4093
_MISSING: Any = object()


class Session(dict[str, Any]):
    """The session of one request: a ``dict`` of JSON values that knows when it changed.

    Writing, deleting, ``pop``, ``update``, ``setdefault`` of a new key and :meth:`clear` set
    :attr:`modified`; changing a value in place (``session["cart"].append(3)``) does not, so
    set ``session.modified = True`` yourself then, as in Flask. Values must be JSON-able:
    they come back as JSON types (a tuple as a list, a datetime as its ISO string).
    """

    __slots__ = ("_permanent", "_regenerate", "modified", "new", "sid")

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        new: bool = True,
        permanent: bool = False,
        sid: str | None = None,
    ) -> None:
        super().__init__(data or ())
        #: Whether the session must be saved (set it after changing a nested value).
        self.modified = False
        #: ``True`` when the request brought no valid session (a new visitor, or an
        #: expired, tampered or unknown cookie).
        self.new = new
        #: The server-side id (memory and Redis stores), ``None`` until one is issued.
        self.sid = sid
        self._permanent = permanent
        self._regenerate = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"

    @property
    def permanent(self) -> bool:
        """A permanent session's cookie outlives the browser: it gets a ``Max-Age`` of
        ``PERMANENT_SESSION_LIFETIME``; other sessions end when the browser closes.
        """
        return self._permanent

    @permanent.setter
    def permanent(self, value: bool) -> None:
        if bool(value) != self._permanent:
            self._permanent = bool(value)
            self.modified = True

    def regenerate(self) -> None:
        """Issue a new session id and cookie on save, keeping the data; the old
        server-side record is deleted, so the old cookie is worthless.

        Call it when a user logs in (or gains privileges): an id an attacker planted or
        saw before then no longer leads anywhere (session fixation).
        """
        self._regenerate = True
        self.modified = True

    # Every mutating dict method, so that ``modified`` is right whichever is used.

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.modified = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.modified = True

    def clear(self) -> None:
        """Remove everything; on save the cookie (and the server-side record) goes."""
        super().clear()
        self.modified = True

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (``default``, or ``KeyError``, if absent)."""
        if key in self:
            self.modified = True
            return super().pop(key)
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last ``(key, value)`` pair."""
        item = super().popitem()
        self.modified = True
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``session[key]``, first setting it to ``default`` if it is absent."""
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Update from a mapping or pairs and keyword arguments, as ``dict.update``."""
        super().update(*args, **kwargs)
        self.modified = True

    def __ior__(self, other: Any) -> Session:  # type: ignore[override,misc]
        self.update(other)
        return self


class _Record(msgspec.Struct, array_like=True):
    """What is stored: the data and the permanent flag, as ``[{...}, true]``."""

    data: dict[str, Any]
    permanent: bool = False


_decode_record = msgspec.json.Decoder(_Record).decode


def decode_session(payload: bytes | str, sid: str | None = None) -> Session:
    """The session :func:`encode_session` stored as ``payload``; ``msgspec.DecodeError``
    if it is not one.
    """
    record = _decode_record(payload)
    return Session(record.data, new=False, permanent=record.permanent, sid=sid)


def encode_session(session: Mapping[str, Any]) -> bytes:
    """``session``'s data and permanent flag as JSON bytes (a plain mapping is not
    permanent); ``TypeError`` for a value that is not JSON-able.
    """
    try:
        return encode_json(_Record(dict(session), getattr(session, "permanent", False)))
    except TypeError as exc:
        raise TypeError(f"session values must be JSON-able: {exc}") from None


def _lifetime(value: Any) -> int:
    seconds: float | None = None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value)
    if seconds is None or seconds < 1:
        raise ConfigError(
            "PERMANENT_SESSION_LIFETIME must be a number of seconds (at least 1) or a "
            f"timedelta, got {value!r}"
        )
    return int(seconds)


def _text(config: Mapping[str, Any], key: str, default: str | None) -> str | None:
    value = config.get(key, default)
    if value is None or (isinstance(value, str) and value):
        return value
    raise ConfigError(f"{key} must be a non-empty string, got {value!r}")


def _secure(value: Any) -> bool | None:
    # None (the default) means "Secure when the request came over https".
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return _to_bool("SESSION_COOKIE_SECURE", value)


def signing_keys(config: Mapping[str, Any]) -> list[str]:
    """The app's keys, oldest first: ``SECRET_KEY_FALLBACKS`` then ``SECRET_KEY``."""
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or []
    if isinstance(fallbacks, str) or not all(isinstance(k, str) and k for k in fallbacks):
        raise ConfigError(
            f"SECRET_KEY_FALLBACKS must be a list of older keys (strings), got {fallbacks!r}"
        )
    return [*fallbacks, config["SECRET_KEY"]]


class SessionInterface:
    """Where sessions are kept: :meth:`open` loads one, :meth:`save` writes it back.

    Subclasses implement both (and may provide :attr:`middleware`); this base reads the
    cookie settings from ``app.config`` once and offers :meth:`set_cookie`.
    """

    #: The itsdangerous salt of this interface's cookies.
    salt: ClassVar[str] = "kettle.session"
    #: A kettle middleware the app runs outermost, for stores that must load a session
    #: asynchronously before a handler reads ``req.session`` (which is synchronous).
    middleware: Callable[[Request, Any], Awaitable[Response]] | None = None

    def __init__(self, app: Kettle) -> None:
        config = app.config
        config.resolve_secret_key()
        self.keys = signing_keys(config)
        self.cookie_name: str = _text(config, "SESSION_COOKIE_NAME", "session") or "session"
        self.cookie_path = _text(config, "SESSION_COOKIE_PATH", "/")
        self.cookie_domain = _text(config, "SESSION_COOKIE_DOMAIN", None)
        self.cookie_secure = _secure(config.get("SESSION_COOKIE_SECURE"))
        self.cookie_httponly = _to_bool(
            "SESSION_COOKIE_HTTPONLY", config.get("SESSION_COOKIE_HTTPONLY", True)
        )
        samesite = config.get("SESSION_COOKIE_SAMESITE", "lax")
        if samesite is not None and str(samesite).lower() not in ("lax", "strict", "none"):
            raise ConfigError(
                f"SESSION_COOKIE_SAMESITE must be 'lax', 'strict', 'none' or None, got {samesite!r}"
            )
        self.cookie_samesite = samesite.lower() if samesite is not None else None
        #: Seconds: the server-side max-age of every session, and the Max-Age of the
        #: cookie of permanent ones.
        self.lifetime = _lifetime(config.get("PERMANENT_SESSION_LIFETIME", DEFAULT_LIFETIME))
        #: Re-send the cookie of a permanent session on every request that reads it, so it
        #: expires ``lifetime`` after the last visit rather than after the last change.
        self.refresh_each_request = _to_bool(
            "SESSION_REFRESH_EACH_REQUEST", config.get("SESSION_REFRESH_EACH_REQUEST", True)
        )

    def open(self, req: Request) -> Session:
        """The session of ``req``; called (synchronously) on the first ``req.session``."""
        raise NotImplementedError

    async def save(self, req: Request, response: Response) -> None:
        """Write ``req.session`` back (cookie, store) before ``response`` is sent."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release what the interface holds (connections); run at app shutdown."""

    def must_save(self, session: Session) -> bool:
        """Whether ``session`` needs a new cookie: it changed, or it is permanent and
        refreshed on each request.
        """
        return session.modified or (session.permanent and self.refresh_each_request)

    def set_cookie(self, response: Response, value: str, permanent: bool) -> None:
        """Send the session cookie with the configured flags (warns when it is too big)."""
        response.set_cookie(
            self.cookie_name,
            value,
            max_age=self.lifetime if permanent else None,
            path=self.cookie_path,
            domain=self.cookie_domain,
            secure=self.cookie_secure,
            httponly=self.cookie_httponly,
            samesite=self.cookie_samesite,
        )
        size = len(response.raw_headers[-1][1])
        if size > MAX_COOKIE_SIZE:
            logger.warning(
                "the session cookie %r is %d bytes, more than browsers keep (%d): it will "
                "be dropped; keep less in the session or use a server-side store "
                "(SESSION_BACKEND='redis')",
                self.cookie_name,
                size,
                MAX_COOKIE_SIZE,
            )

    def delete_cookie(self, req: Request, response: Response) -> None:
        """Tell the browser to drop the session cookie, if the request carried one."""
        if self.cookie_name in req.cookies:
            response.delete_cookie(
                self.cookie_name,
                path=self.cookie_path,
                domain=self.cookie_domain,
                secure=self.cookie_secure,
            )


def vary_cookie(response: Response) -> None:
    """Add ``Vary: Cookie``: a response built from the session must not be served from a
    shared cache to someone else (Flask CVE-2023-30861).
    """
    values = response.headers.getlist("vary")
    tokens = {token.strip().lower() for value in values for token in value.split(",")}
    if "cookie" not in tokens and "*" not in tokens:
        response.headers["vary"] = ", ".join([*values, "Cookie"])


def install_sessions(app: Kettle, interface: SessionInterface | None = None) -> None:
    """Give ``app`` its sessions: ``interface``, or the one ``SESSION_BACKEND`` names.

    Sets ``app.extensions["sessions"]``, runs the interface's middleware (if any) outermost
    and its ``close()`` at shutdown. The app calls this when it is finalized unless sessions
    are already installed, so calling it first with your own interface replaces the default;
    without ``interface`` and with sessions installed, it does nothing.
    """
    if "sessions" in app.extensions:
        if interface is None:
            return
        raise SetupError("the app already has sessions (app.extensions['sessions'])")
    if interface is None:
        backend = str(app.config.get("SESSION_BACKEND", "cookie")).strip().lower()
        if backend == "none":
            return
        interface = _from_backend(app, backend)
    app.extensions["sessions"] = interface
    middleware = interface.middleware
    if middleware is not None:
        app._check_open("install session middleware")
        # Outermost: every other middleware may read req.session and must find it loaded.
        app.middleware.insert(0, (None, middleware))
    app.on_shutdown(interface.close)


def _from_backend(app: Kettle, backend: str) -> SessionInterface:
    # Imported here: the stores build on this module, and Redis is only loaded if chosen.
    from .session_stores import (
        CookieSessionInterface,
        MemorySessionInterface,
        RedisSessionInterface,
    )

    choices: dict[str, Callable[[Kettle], SessionInterface]] = {
        "cookie": CookieSessionInterface,
        "memory": MemorySessionInterface,
        "redis": RedisSessionInterface,
    }
    make = choices.get(backend)
    if make is None:
        raise ConfigError(
            f"SESSION_BACKEND must be 'cookie', 'memory', 'redis' or 'none', got {backend!r}"
        )
    return make(app)

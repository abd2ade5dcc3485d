"""Where sessions are kept: a signed cookie (the default), process memory, or Redis.

``SESSION_BACKEND`` picks one (see :func:`kettle.sessions.install_sessions`); each can also
be built and installed by hand: ``install_sessions(app, RedisSessionInterface(app, url=...))``.

The server-side stores put only a random id (``secrets.token_urlsafe(32)``), signed, in the
cookie; the data stays on the server, so it is private, unlimited in size, and a session can
be ended there (:meth:`~kettle.sessions.Session.regenerate`, logout).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from .exceptions import SetupError
from .json import encode_json
from .sessions import Session, SessionInterface, decode_session, encode_session, vary_cookie

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .app import Kettle
    from .requests import Request
    from .responses import Response

__all__ = [
    "CookieSessionInterface",
    "MemorySessionInterface",
    "RedisSessionInterface",
    "ServerSideSessionInterface",
    "Signing",
]

#: Where the Redis middleware leaves a preloaded session for ``open`` to pick up.
_PRELOADED = "kettle.session"
_decode_id = msgspec.json.Decoder(str).decode


class _Serializer:
    """The data serializer itsdangerous calls (a text one, so cookies are ``str``)."""

    def __init__(self, encode: Callable[[Any], bytes], decode: Callable[[str], Any]) -> None:
        self._encode = encode
        self.loads = decode

    def dumps(self, obj: Any) -> str:
        return self._encode(obj).decode()


class Signing:
    """Signs values into cookie strings with the newest key; verifies with every key.

    ``encode`` turns a value into JSON bytes and ``decode`` turns the text back (raising
    on anything else). ``loads`` returns ``(value, stale)``, ``stale`` meaning an older
    key verified it (so the cookie should be re-signed), or ``None`` for anything not
    validly signed within ``max_age`` seconds.
    """

    def __init__(
        self,
        keys: list[str],
        salt: str,
        encode: Callable[[Any], bytes],
        decode: Callable[[str], Any],
    ) -> None:
        serializer = _Serializer(encode, decode)
        self._current = URLSafeTimedSerializer(keys[-1], salt=salt, serializer=serializer)
        # Verifying with the newest key first keeps old keys off the path of fresh cookies.
        self._older = (
            URLSafeTimedSerializer(keys[:-1], salt=salt, serializer=serializer)
            if len(keys) > 1
            else None
        )

    def dumps(self, value: Any) -> str:
        """``value`` as a signed, timestamped, URL-safe string."""
        return self._current.dumps(value)

    def loads(self, signed: str, max_age: int) -> tuple[Any, bool] | None:
        """Verify and decode ``signed``; see the class docstring."""
        try:
            return self._current.loads(signed, max_age=max_age), False
        except SignatureExpired:
            return None  # validly signed but too old: never retried with other keys
        except BadData:
            if self._older is None:
                return None
        try:
            return self._older.loads(signed, max_age=max_age), True
        except BadData:
            return None


class CookieSessionInterface(SessionInterface):
    """The default: the session's data, JSON-encoded and signed, is the cookie itself.

    Nothing is kept on the server, so any number of processes share sessions through the
    key alone; the data is readable by the client (signed, not encrypted) and limited to
    about 4 KB. :meth:`~kettle.sessions.Session.regenerate` only re-issues the cookie.
    """

    def __init__(self, app: Kettle) -> None:
        super().__init__(app)
        self._signing = Signing(self.keys, self.salt, encode_session, decode_session)

    def open(self, req: Request) -> Session:
        """Verify and decode the cookie; anything wrong with it is an empty session."""
        value = req.cookies.get(self.cookie_name)
        if value:
            loaded = self._signing.loads(value, self.lifetime)
            if loaded is not None:
                session, stale = loaded
                session.modified = stale  # an older key verified it: re-sign with the newest
                return session  # type: ignore[no-any-return]
        return Session()

    async def save(self, req: Request, response: Response) -> None:
        """Send the re-signed cookie if the session changed; delete it if emptied."""
        session: Session = req._session
        vary_cookie(response)
        if not session:
            if session.modified:
                self.delete_cookie(req, response)
        elif self.must_save(session):
            self.set_cookie(response, self._signing.dumps(session), session.permanent)


class ServerSideSessionInterface(SessionInterface):
    """Base of the stores that keep the data on the server under a random id.

    Subclasses implement :meth:`open` and the async :meth:`write` and :meth:`delete`;
    this class handles the signed id cookie, new ids, regeneration and deletion.
    """

    salt = "kettle.session.id"

    def __init__(self, app: Kettle) -> None:
        super().__init__(app)
        self._signing = Signing(self.keys, self.salt, encode_json, _decode_id)

    def session_id(self, req: Request) -> tuple[str, bool] | None:
        """The verified id in the request's cookie and whether it must be re-signed
        (an older key signed it), or ``None``.
        """
        value = req.cookies.get(self.cookie_name)
        return self._signing.loads(value, self.lifetime) if value else None

    def load(self, payload: bytes | str | None, sid: str, stale: bool) -> Session:
        """The session stored as ``payload`` under ``sid``; a new one if there is none."""
        if payload is not None:
            try:
                session = decode_session(payload, sid)
            except msgspec.DecodeError:
                return Session()
            session.modified = stale
            return session
        # No record (expired, deleted): a fresh id will be issued, never the client's.
        return Session()

    async def write(self, sid: str, payload: bytes) -> None:
        """Store ``payload`` under ``sid`` for :attr:`lifetime` seconds."""
        raise NotImplementedError

    async def delete(self, sid: str) -> None:
        """Remove the record of ``sid`` (no error if there is none)."""
        raise NotImplementedError

    async def save(self, req: Request, response: Response) -> None:
        """Write the record and send the id cookie; delete both when the session is empty."""
        session: Session = req._session
        vary_cookie(response)
        sid = session.sid
        if not session:
            if session.modified:
                if sid is not None:
                    await self.delete(sid)
                self.delete_cookie(req, response)
            return
        if not self.must_save(session):
            return
        if sid is None or session._regenerate:
            if sid is not None:
                await self.delete(sid)
            sid = session.sid = secrets.token_urlsafe(32)
            session._regenerate = False
        # Rewritten on refresh too: that is what moves the server-side expiry forward.
        await self.write(sid, encode_session(session))
        self.set_cookie(response, self._signing.dumps(sid), session.permanent)


class MemorySessionInterface(ServerSideSessionInterface):
    """Sessions in this process's memory: for development and single-process servers.

    Every worker process has its own, and a restart forgets them all; use Redis to share
    sessions between processes. Records expire ``lifetime`` seconds after their last save
    by ``clock`` (a monotonic clock in seconds).
    """

    #: Expired records are swept out after this many writes.
    sweep_every = 1000

    def __init__(self, app: Kettle, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(app)
        self.clock = clock
        self._records: dict[str, tuple[float, bytes]] = {}
        # open() runs in handler threads, save() on the loop.
        self._lock = threading.Lock()
        self._writes = 0

    def __len__(self) -> int:
        return len(self._records)

    def open(self, req: Request) -> Session:
        """The stored session named by the request's cookie, or a new one."""
        found = self.session_id(req)
        if found is None:
            return Session()
        sid, stale = found
        with self._lock:
            record = self._records.get(sid)
        payload = record[1] if record is not None and record[0] > self.clock() else None
        return self.load(payload, sid, stale)

    async def write(self, sid: str, payload: bytes) -> None:
        """Store ``payload`` under ``sid`` until ``lifetime`` seconds from now."""
        now = self.clock()
        with self._lock:
            self._records[sid] = (now + self.lifetime, payload)
            self._writes += 1
            if self._writes % self.sweep_every == 0:
                expired = [key for key, (until, _) in self._records.items() if until <= now]
                for key in expired:
                    del self._records[key]

    async def delete(self, sid: str) -> None:
        """Forget ``sid``."""
        with self._lock:
            self._records.pop(sid, None)


class RedisSessionInterface(ServerSideSessionInterface):
    """Sessions in Redis, shared by every process and machine that uses the same server.

    Records live under ``SESSION_REDIS_PREFIX`` (``"kettle:session:"``) plus the id, with a
    time-to-live of ``lifetime`` seconds from their last save; the server is
    ``SESSION_REDIS_URL`` (``"redis://127.0.0.1:6379/0"``). A middleware loads the session
    before the handler runs, for requests that carry a session cookie only; the connection
    pool opens on first use and is closed at app shutdown.
    """

    def __init__(self, app: Kettle, *, url: str | None = None, prefix: str | None = None) -> None:
        super().__init__(app)
        try:
            import redis.asyncio
        except ImportError:  # pragma: no cover - redis is a declared dependency
            raise SetupError("SESSION_BACKEND='redis' needs redis: pip install redis") from None
        self._from_url = redis.asyncio.Redis.from_url
        self.url: str = url or app.config.get("SESSION_REDIS_URL") or "redis://127.0.0.1:6379/0"
        self.prefix: str = prefix or app.config.get("SESSION_REDIS_PREFIX") or "kettle:session:"
        self._client: Redis | None = None
        self.middleware: Callable[[Request, Any], Awaitable[Response]] | None = self._preload

    @property
    def client(self) -> Redis:
        """The ``redis.asyncio.Redis`` client (created on first use)."""
        client = self._client
        if client is None:
            client = self._client = self._from_url(self.url)
        return client

    async def _preload(
        self, req: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        found = self.session_id(req)
        if found is not None:
            sid, stale = found
            payload = await self.client.get(self.prefix + sid)
            req.scope[_PRELOADED] = self.load(payload, sid, stale)
        return await call_next(req)

    def open(self, req: Request) -> Session:
        """The session the middleware loaded, or a new one."""
        session: Session | None = req.scope.pop(_PRELOADED, None)
        return Session() if session is None else session

    async def write(self, sid: str, payload: bytes) -> None:
        """``SET`` the record with a time-to-live of ``lifetime`` seconds."""
        await self.client.set(self.prefix + sid, payload, ex=self.lifetime)

    async def delete(self, sid: str) -> None:
        """``DEL`` the record."""
        await self.client.delete(self.prefix + sid)

    async def close(self) -> None:
        """Close the connection pool (a later request opens a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

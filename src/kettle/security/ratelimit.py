"""Rate limiting: ``RateLimit("5/minute")`` as middleware of a route, a router or the app.

::

    @app.post("/login", middleware=[RateLimit("5/minute", name="login")])
    async def login(req): ...

    api.use(RateLimit("100/minute", key="user", store=RedisStore(url)))

Each request is counted under a key: the client's address (``"ip"``, IPv6 addresses
grouped by ``/64``), the logged-in user's id (``"user"``, the address for anonymous
users), or what a function of the request returns (``None``: not limited). Over the limit,
the middleware raises :class:`~kettle.TooManyRequests` with ``Retry-After`` (whole
seconds, at least 1), so the app's error handlers answer it (an ``@errorhandler(429)``
finds the headers in ``exc.headers``).

Every response of a limited request carries the fields of the IETF draft "RateLimit
header fields for HTTP" (draft-ietf-httpapi-ratelimit-headers, revision 11), both
Structured Field lists with the policy named by a String::

    RateLimit-Policy: "login";q=5;w=60       quota q per window w (seconds)
    RateLimit: "login";r=4;t=60              r left; t seconds to the window's end

On a 429, ``r=0`` and ``t`` equals ``Retry-After``. Several limits on one request add one
item each (several fields, which clients join into one list).

The work is done in ``__init__``: the limit is parsed, the header bytes are built; a request
costs its key, one store call and one ``list.extend``. When the store fails (Redis down),
``fail_open=True`` lets requests through and ``fail_open=False`` answers 503; either way a
warning is logged at most once a minute, and the store is left alone for a second.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, Literal

from ..exceptions import ServiceUnavailable, SetupError, TooManyRequests
from ._ratelimit_stores import Hit, MemoryStore, RateLimitStore, RedisStore, sliding_decision

if TYPE_CHECKING:
    from ..pipeline import CallNext
    from ..requests import Request
    from ..responses import Response

__all__ = [
    "Hit",
    "KeyFunction",
    "MemoryStore",
    "RateLimit",
    "RateLimitStore",
    "RedisStore",
    "parse_limit",
    "sliding_decision",
]

logger = logging.getLogger("kettle.ratelimit")

#: ``key=`` as a function: the request's key, or ``None`` to leave it unlimited.
KeyFunction = Callable[["Request"], "str | Awaitable[str | None] | None"]

_UNITS: Final[dict[str, int]] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_SPEC = re.compile(
    r"\s*(\d+)\s*(?:/|\s+per\s+)\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*", re.ASCII | re.IGNORECASE
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", re.ASCII)
#: Lua numbers are doubles: every product of the arithmetic stays below this.
_EXACT = 2**53
#: How often a failing store is reported, and how long it is left alone after a failure.
_WARN_EVERY = 60.0
_PAUSE = 1.0
_derived: dict[str, int] = {}
#: Longer keys are stored as their SHA-256.
_LONGEST_KEY = 128
_V4_MAPPED = bytes(10) + b"\xff\xff"


def _fail(message: str) -> SetupError:
    return SetupError(f"RateLimit: {message}")


def parse_limit(limit: str | int, per: float | None = None) -> tuple[int, float]:
    """``(count, window in seconds)`` from ``"100/minute"``, ``"5 per second"``,
    ``"10/5s"``, ``"1000/2 hours"`` or ``(100, per=60)``.

    Units: s/sec/second, m/min/minute, h/hr/hour, d/day (plurals too). Raises
    :class:`~kettle.SetupError` for anything else, a count below 1 or a window that is
    not positive.
    """
    if isinstance(limit, bool) or not isinstance(limit, int | str):
        raise _fail(f"the limit must be a string like '100/minute' or an int, not {limit!r}")
    if isinstance(limit, str):
        if per is not None:
            raise _fail(f"per= goes with an int limit, not with {limit!r}")
        match = _SPEC.fullmatch(limit)
        if match is None:
            raise _fail(f"cannot read the limit {limit!r}; write it like '100/minute' or '10/5s'")
        count_text, amount, unit = match.groups()
        seconds = _UNITS.get(unit.lower())
        if seconds is None:
            raise _fail(f"unknown time unit {unit!r} in {limit!r}; one of s, m, h, d")
        count = int(count_text)
        window = float(amount) * seconds if amount is not None else float(seconds)
    else:
        if per is None:
            raise _fail(f"RateLimit({limit}) needs a window: per=<seconds>")
        if isinstance(per, bool) or not isinstance(per, int | float) or not math.isfinite(per):
            raise _fail(f"per= must be a number of seconds, not {per!r}")
        count, window = limit, float(per)
    if count < 1:
        raise _fail(f"the limit must allow at least one request, not {count}")
    if window * 1000 < 1:
        raise _fail(f"the window must be at least a millisecond, not {window!r} seconds")
    if count * window * 1000 >= _EXACT:
        raise _fail(f"{count} per {_number(window)} seconds is too large to count exactly")
    return count, window


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _seconds(window: float) -> str:
    return "1 second" if window == 1 else f"{_number(window)} seconds"


class RateLimit:
    """Middleware allowing ``limit`` requests per window and key; see the module docstring.

    ``limit`` is a string (``"100/minute"``) or a count with ``per`` seconds. ``key`` is
    ``"ip"``, ``"user"`` or a function of the request (sync or async) returning a string,
    or ``None`` to leave that request unlimited. ``algorithm`` is ``"sliding"`` (smooth)
    or ``"fixed"`` (allows up to twice the limit across a window edge). ``store`` defaults
    to a :class:`MemoryStore` of this instance's own (one process); use a
    :class:`RedisStore` to share the counts between processes. Only requests with one of
    ``methods`` are counted (all when ``None``; ``GET`` brings ``HEAD``). ``headers``
    adds ``RateLimit-Policy`` and ``RateLimit`` to every response of a limited request.

    ``name`` is the policy's name in the headers and the keys' namespace in the store:
    instances with the same name and store share their counts. By default it is derived
    from the limit (``"5-per-60s"``, then ``"5-per-60s-2"`` for the next instance with
    the same limit in this process); give one when processes must agree whatever the
    order in which they build their limits. ``fail_open`` decides what a failing store
    means: let requests through (``True``) or answer 503 (``False``). ``ipv6_subnet``
    groups IPv6 clients by network (``None``: each address on its own).
    """

    __slots__ = (
        "_describe",
        "_down_until",
        "_hit",
        "_item",
        "_key",
        "_methods",
        "_policy",
        "_prefix",
        "_subnet",
        "_warned_at",
        "algorithm",
        "fail_open",
        "headers",
        "limit",
        "name",
        "store",
        "window",
        "window_ms",
    )

    def __init__(
        self,
        limit: str | int,
        per: float | None = None,
        *,
        key: Literal["ip", "user"] | KeyFunction = "ip",
        algorithm: Literal["fixed", "sliding"] = "sliding",
        store: RateLimitStore | None = None,
        methods: Iterable[str] | None = None,
        headers: bool = True,
        name: str | None = None,
        fail_open: bool = True,
        ipv6_subnet: int | None = 64,
    ) -> None:
        self.limit, self.window = parse_limit(limit, per)
        self.window_ms = max(1, round(self.window * 1000))
        if algorithm not in ("fixed", "sliding"):
            raise _fail(f"algorithm= is 'fixed' or 'sliding', not {algorithm!r}")
        self.algorithm = algorithm
        if key == "ip":
            self._key: KeyFunction = self._ip_key
        elif key == "user":
            self._key = self._user_key
        elif callable(key):
            self._key = key
        else:
            raise _fail(f"key= is 'ip', 'user' or a function of the request, not {key!r}")
        self.store: RateLimitStore = MemoryStore() if store is None else store
        if not all(callable(getattr(self.store, m, None)) for m in ("fixed", "sliding", "close")):
            raise _fail(f"store= needs async fixed(), sliding() and close(): {store!r}")
        self._hit: Callable[[str, int, int], Awaitable[Hit]] = getattr(self.store, algorithm)
        self._methods = _methods(methods)
        if ipv6_subnet is not None and (
            isinstance(ipv6_subnet, bool)
            or not isinstance(ipv6_subnet, int)
            or not 1 <= ipv6_subnet <= 128
        ):
            raise _fail(f"ipv6_subnet= is a prefix length 1-128 or None, not {ipv6_subnet!r}")
        self._subnet = ipv6_subnet if ipv6_subnet != 128 else None
        self.name = _name(name, self.limit, self.window)
        self.headers = bool(headers)
        self.fail_open = bool(fail_open)
        # The store's keys: name, algorithm (their records differ), then the client's key.
        self._prefix = f"{self.name}:{algorithm[0]}:"
        self._describe = f"{self.limit} per {_seconds(self.window)}"
        # Draft 11: w is an integer of seconds, at least 1.
        w = max(1, math.ceil(self.window))
        self._policy = f'"{self.name}";q={self.limit};w={w}'.encode("ascii")
        self._item = f'"{self.name}";r='.encode("ascii")
        self._down_until = 0.0
        self._warned_at = -math.inf

    def __repr__(self) -> str:
        return f"<RateLimit {self.name!r}: {self._describe}, {self.algorithm}>"

    # -- keys ------------------------------------------------------------------------

    def _ip_key(self, req: Request) -> str:
        client = req.client
        if client is None:
            return "ip:-"  # no peer address (a UNIX socket without proxy headers): one bucket
        host = client.host
        if ":" not in host:
            return "ip:" + host
        try:
            # PERF: inet_pton and bytes arithmetic, about 20 times faster than ipaddress.
            packed = socket.inet_pton(socket.AF_INET6, host)
        except (OSError, ValueError):
            return "ip:" + host  # a zone index (fe80::1%eth0) or not an address at all
        # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d: each is its own
        # client, not part of one IPv6 network.
        if packed[:12] == _V4_MAPPED:
            return "ip:" + socket.inet_ntop(socket.AF_INET, packed[12:])
        subnet = self._subnet
        if subnet is None:
            return f"ip:{packed.hex()}"
        # One IPv6 client usually holds a whole /64: limiting single addresses would let
        # it rotate through billions of them.
        bits = int.from_bytes(packed, "big") >> (128 - subnet)
        return f"ip:{bits:x}/{subnet}"

    def _user_key(self, req: Request) -> str:
        if "login" in req.app.extensions:
            user = req.user
            if user.is_authenticated:
                ident = user.get_id()
                if ident is not None:
                    return f"user:{ident}"
        return self._ip_key(req)

    # -- per request -----------------------------------------------------------------

    async def __call__(self, req: Request, call_next: CallNext) -> Response:
        """Count the request; refuse it with 429 past the limit, else add the headers."""
        methods = self._methods
        if methods is not None and req.method not in methods:
            return await call_next(req)
        ident: Any = self._key(req)
        if ident.__class__ is not str:
            if inspect.isawaitable(ident):
                ident = await ident
            if ident is None:
                return await call_next(req)
            if not isinstance(ident, str):
                raise TypeError(f"the key function of {self!r} returned {ident!r}, not a str")
        if len(ident) > _LONGEST_KEY:
            # A key from a request header can be kilobytes long; a key-spraying client
            # must not fill the store with them.
            ident = "sha256:" + hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()
        if self._down_until and time.monotonic() < self._down_until:
            return await self._unavailable(req, call_next, None)
        try:
            allowed, remaining, wait = await self._hit(
                self._prefix + ident, self.limit, self.window_ms
            )
        except Exception as exc:
            return await self._unavailable(req, call_next, exc)
        if not allowed:
            raise self._refusal(wait)
        response = await call_next(req)
        if self.headers:
            # PERF: the policy bytes are prebuilt; the one formatted value is two integers.
            value = b"%s%d;t=%d" % (self._item, remaining, -(-wait // 1000))
            response.raw_headers.extend(
                ((b"ratelimit-policy", self._policy), (b"ratelimit", value))
            )
        return response

    def _refusal(self, wait_ms: int) -> TooManyRequests:
        seconds = max(1, -(-wait_ms // 1000))
        headers = {"Retry-After": str(seconds)}
        if self.headers:
            headers["RateLimit-Policy"] = self._policy.decode("ascii")
            headers["RateLimit"] = f"{self._item.decode('ascii')}0;t={seconds}"
        detail = f"rate limit of {self._describe} exceeded; retry in {_seconds(seconds)}"
        return TooManyRequests(detail, headers)

    async def _unavailable(
        self, req: Request, call_next: CallNext, exc: Exception | None
    ) -> Response:
        if exc is not None:
            now = time.monotonic()
            self._down_until = now + _PAUSE
            if now - self._warned_at >= _WARN_EVERY:
                self._warned_at = now
                outcome = "letting requests through" if self.fail_open else "answering 503"
                logger.warning(
                    "rate limit %r: the store failed (%r); %s (reported at most once a minute)",
                    self.name,
                    exc,
                    outcome,
                )
        if self.fail_open:
            return await call_next(req)
        raise ServiceUnavailable(
            "rate limiting is unavailable; try again shortly",
            {"Retry-After": str(math.ceil(_PAUSE))},
        )

    async def close(self) -> None:
        """Close the store (its connections); ``app.on_shutdown(limiter.close)``."""
        await self.store.close()


def _methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    if methods is None:
        return None
    items = (methods,) if isinstance(methods, str) else tuple(methods)
    if not items or not all(isinstance(m, str) and m.strip() for m in items):
        raise _fail(f"methods= takes HTTP method names, not {methods!r}")
    names = {m.strip().upper() for m in items}
    if "GET" in names:
        names.add("HEAD")  # kettle answers HEAD with the GET handler
    return frozenset(names)


def _name(name: str | None, limit: int, window: float) -> str:
    if name is None:
        base = f"{limit}-per-{_number(window)}s"
        count = _derived[base] = _derived.get(base, 0) + 1
        return base if count == 1 else f"{base}-{count}"
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _fail(
            f"name= must be 1-64 letters, digits and _ . : - (starting with a letter or "
            f"digit), not {name!r}"
        )
    return name

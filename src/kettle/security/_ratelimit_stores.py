"""Where rate-limit counters live: this process's memory, or Redis (shared by every worker).

Both stores implement the two algorithms of :class:`~kettle.security.ratelimit.RateLimit`
with the same arithmetic, and answer a hit with a :data:`Hit`, ``(allowed, remaining,
wait_ms)``: whether the request may pass, the quota left after it, and the milliseconds
until the window resets (allowed) or until a request could pass again (refused).

Fixed window: a counter per key, started by the key's first hit and expiring ``window``
later (``INCR``, then ``PEXPIRE`` on the first hit). A client can spend its quota at the
end of one window and again at the start of the next: up to twice the limit in a moment.

Sliding window: the two-window approximation Cloudflare describes. Windows are aligned on
the clock (``floor(now / window)``); a hit is allowed while ``previous * (window -
elapsed) / window + current + 1 <= limit``, ``elapsed`` being the time since the current
window began. Refused hits are not counted, so a client that keeps hammering gets through
again as soon as its earlier traffic has slid out of the window. Redis computes it with
its own clock (``TIME``), so workers with skewed clocks agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..exceptions import SetupError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Hit", "MemoryStore", "RateLimitStore", "RedisStore"]

#: ``(allowed, remaining, wait_ms)``; see the module docstring.
Hit = tuple[bool, int, int]


@runtime_checkable
class RateLimitStore(Protocol):
    """What :class:`~kettle.security.ratelimit.RateLimit` needs of a store.

    Each method counts one hit on ``key`` against ``limit`` hits per ``window_ms``
    milliseconds and must be atomic: concurrent hits on one key never both take the last
    unit of quota. An exception means the store is unavailable (see ``fail_open``).
    """

    async def fixed(self, key: str, limit: int, window_ms: int) -> Hit: ...

    async def sliding(self, key: str, limit: int, window_ms: int) -> Hit: ...

    async def close(self) -> None: ...


def sliding_decision(
    previous: float, current: float, elapsed: float, limit: int, window: float
) -> Hit:
    """The sliding-window verdict for one more hit (all times in milliseconds).

    ``previous`` and ``current`` are the counts of the last window and this one; the
    weighted count is kept multiplied by ``window`` so that the test is exact. The Lua
    script of :class:`RedisStore` is this function, line for line.
    """
    left = window - elapsed
    weighted = previous * left + current * window
    if weighted + window <= limit * window:
        return True, int((limit * window - weighted - window) // window), math.ceil(left)
    if current >= limit:
        # Nothing frees up in this window: wait for it to end, then for enough of this
        # window's hits (the next one's "previous") to slide out.
        wait = left + math.ceil(window * (current - limit + 1) / current)
    else:
        wait = left - math.floor(window * (limit - 1 - current) / previous)
    return False, 0, math.ceil(wait)


class MemoryStore:
    """Counters in this process's memory: for one process (each worker has its own).

    Entries are a plain dict updated without locks: the middleware is async, so every hit
    runs on the event loop, and a hit never awaits in the middle. Memory is bounded: past
    ``max_keys`` entries, expired ones are dropped (oldest first), and if every entry is
    still live the oldest are (their clients start afresh), so an attacker spraying keys
    costs a bounded amount of memory. About 250 bytes an entry: 100,000 keys ≈ 25 MB.

    ``clock`` (seconds, monotonic; ``time.monotonic`` by default) lets tests move time.
    """

    __slots__ = ("_clock", "_data", "max_keys")

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] | None = None
    ) -> None:
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise SetupError(f"MemoryStore: max_keys must be a positive int, not {max_keys!r}")
        self.max_keys = max_keys
        self._clock = clock or time.monotonic
        # key -> [expires_ms, count] (fixed) or [expires_ms, window index, current, previous]
        # (sliding). Entries move to the end when their window starts, so the dict stays
        # roughly in order of expiry and sweeps find the expired ones first.
        self._data: dict[str, list[float]] = {}

    def __len__(self) -> int:
        return len(self._data)

    def _make_room(self, now: float) -> None:
        data = self._data
        for key in [key for key, entry in data.items() if entry[0] <= now]:
            del data[key]
        # PERF: when everything is live, shrink to 90 % so the next full sweep is
        # max_keys / 10 inserts away: amortised, a sweep costs ten entries per new key.
        excess = len(data) - self.max_keys * 9 // 10
        if excess > 0:
            for key in [key for key, _ in zip(data, range(excess), strict=False)]:
                del data[key]

    async def fixed(self, key: str, limit: int, window_ms: int) -> Hit:
        """Count a hit in ``key``'s fixed window (started by its first hit)."""
        now = self._clock() * 1000.0
        data = self._data
        entry = data.get(key)
        if entry is None or entry[0] <= now:
            if entry is not None:
                del data[key]
            elif len(data) >= self.max_keys:
                self._make_room(now)
            entry = data[key] = [now + window_ms, 0.0]
        count = entry[1] = entry[1] + 1
        wait = math.ceil(entry[0] - now)
        if count <= limit:
            return True, int(limit - count), wait
        return False, 0, wait

    async def sliding(self, key: str, limit: int, window_ms: int) -> Hit:
        """Count a hit in ``key``'s sliding window, if it is allowed."""
        now = self._clock() * 1000.0
        index = now // window_ms
        data = self._data
        entry = data.get(key)
        if entry is None:
            if len(data) >= self.max_keys:
                self._make_room(now)
            entry = data[key] = [(index + 2) * window_ms, index, 0.0, 0.0]
        elif entry[1] != index:
            previous = entry[2] if entry[1] == index - 1 else 0.0
            del data[key]
            entry = data[key] = [(index + 2) * window_ms, index, 0.0, previous]
        # PERF: sliding_decision's allowed branch, inlined (a call fewer on the common path).
        left = window_ms - (now - index * window_ms)
        weighted = entry[3] * left + entry[2] * window_ms
        if weighted + window_ms <= limit * window_ms:
            entry[2] += 1
            return (
                True,
                int((limit * window_ms - weighted - window_ms) // window_ms),
                math.ceil(left),
            )
        return sliding_decision(entry[3], entry[2], window_ms - left, limit, window_ms)

    async def close(self) -> None:
        """Nothing to release."""


# KEYS[1] the counter; ARGV: limit, window in ms. Returns {allowed, remaining, wait_ms}.
_FIXED_LUA = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local count = redis.call('INCR', KEYS[1])
local ttl = window
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], window)
else
  ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], window)
    ttl = window
  end
end
if count <= limit then
  return {1, limit - count, ttl}
end
return {0, 0, ttl}
"""

# KEYS[1] a hash {i: window index, c: current count, p: previous count}; ARGV as above.
# The arithmetic is sliding_decision's; the clock is the Redis server's.
_SLIDING_LUA = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local index = math.floor(now / window)
local elapsed = now - index * window
local state = redis.call('HMGET', KEYS[1], 'i', 'c', 'p')
local stored = tonumber(state[1])
local current, previous = 0, 0
if stored == index then
  current = tonumber(state[2]) or 0
  previous = tonumber(state[3]) or 0
elseif stored == index - 1 then
  previous = tonumber(state[2]) or 0
end
local left = window - elapsed
local weighted = previous * left + current * window
if weighted + window <= limit * window then
  redis.call('HSET', KEYS[1], 'i', index, 'c', current + 1, 'p', previous)
  redis.call('PEXPIRE', KEYS[1], left + window)
  return {1, math.floor((limit * window - weighted - window) / window), left}
end
local wait
if current >= limit then
  wait = left + math.ceil(window * (current - limit + 1) / current)
else
  wait = left - math.floor(window * (limit - 1 - current) / previous)
end
return {0, 0, wait}
"""


def _sha1(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


_FIXED_SHA = _sha1(_FIXED_LUA)
_SLIDING_SHA = _sha1(_SLIDING_LUA)


class RedisStore:
    """Counters in Redis (5 or newer), shared by every worker and machine using it.

    Each hit is one ``EVALSHA`` of a small Lua script, so it is atomic however many
    processes hit the same key; a script missing on the server (``NOSCRIPT``: a restart, a
    ``SCRIPT FLUSH``) is loaded and the call repeated. Keys are ``prefix`` plus the
    limit's name and the client's key, and expire with their window.

    The client (``redis.asyncio.Redis``) is created on first use with ``timeout``-second
    connect and read timeouts, no retries, and a pool of ``max_connections`` that
    requests wait for (``timeout`` seconds at most), so a Redis that is down, unreachable
    or saturated costs a request a bounded wait (see ``fail_open``). Close it at shutdown:
    ``app.on_shutdown(store.close)``. A ``client`` passed in is used as it is and left
    open; its owner closes it.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "kettle:ratelimit:",
        client: Redis | None = None,
        timeout: float = 0.5,
        max_connections: int = 50,
    ) -> None:
        try:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
            from redis.exceptions import NoScriptError
        except ImportError:  # pragma: no cover - redis is an optional dependency
            raise SetupError("RedisStore needs redis: pip install 'kettle[redis]'") from None
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise SetupError(f"RedisStore: timeout must be a positive number, not {timeout!r}")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise SetupError(f"RedisStore: max_connections must be an int, not {max_connections!r}")
        if max_connections < 1:
            raise SetupError(f"RedisStore: max_connections must be positive: {max_connections}")
        self.url = url
        self.prefix = prefix
        self.timeout = float(timeout)
        self._owned = client is None
        self._client: Redis | None = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._no_script = NoScriptError

        def connect() -> Redis:
            # A blocking pool: past max_connections, a hit waits (up to timeout) for a
            # connection instead of failing at once.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=timeout,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
            return redis.asyncio.Redis(connection_pool=pool)

        self._connect = connect

    @property
    def client(self) -> Redis:
        """The ``redis.asyncio.Redis`` client (created on first use, on the running loop)."""
        client = self._client
        if self._owned:
            loop = asyncio.get_running_loop()
            # A pool's connections belong to the loop that opened them: another loop (a
            # second test client, a restarted server loop) gets a client of its own.
            if client is None or loop is not self._loop:
                client = self._client = self._connect()
                self._loop = loop
        assert client is not None
        return client

    async def _run(self, script: str, sha: str, key: str, limit: int, window_ms: int) -> Hit:
        client = self.client
        name = self.prefix + key
        try:
            result: Any = await client.evalsha(sha, 1, name, limit, window_ms)
        except self._no_script:
            await client.script_load(script)
            result = await client.evalsha(sha, 1, name, limit, window_ms)
        allowed, remaining, wait = result
        return bool(allowed), int(remaining), int(wait)

    async def fixed(self, key: str, limit: int, window_ms: int) -> Hit:
        """One ``EVALSHA``: ``INCR``, ``PEXPIRE`` on the first hit, ``PTTL``."""
        return await self._run(_FIXED_LUA, _FIXED_SHA, key, limit, window_ms)

    async def sliding(self, key: str, limit: int, window_ms: int) -> Hit:
        """One ``EVALSHA`` reading and updating the key's two-window hash."""
        return await self._run(_SLIDING_LUA, _SLIDING_SHA, key, limit, window_ms)

    async def close(self) -> None:
        """Close the client's connections if this store made it (a later hit reopens)."""
        if not self._owned:
            return
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()
            await client.connection_pool.disconnect()

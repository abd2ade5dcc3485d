from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from kettle import Kettle

SECRET = "test-secret-" + "x" * 32

MakeApp = Callable[..., Kettle]


REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_keys(prefix: str) -> list[bytes]:
    """The keys under ``prefix`` in the local Redis."""
    with redis.Redis.from_url(REDIS_URL) as client:
        return list(client.scan_iter(match=prefix + "*"))


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the local Redis, emptied afterwards."""
    prefix = f"kettle:test:{uuid.uuid4().hex}:"
    yield prefix
    keys = redis_keys(prefix)
    if keys:
        with redis.Redis.from_url(REDIS_URL) as client:
            client.delete(*keys)


@pytest.fixture
def make_app(redis_prefix: str) -> MakeApp:
    """A factory for apps with a secret key set, so they can finalize; server-side
    sessions use this test's own Redis prefix."""

    def factory(**config: Any) -> Kettle:
        return Kettle(
            __name__,
            config={"SECRET_KEY": SECRET, "SESSION_REDIS_PREFIX": redis_prefix, **config},
        )

    return factory


async def call_raw(
    app: Any,
    path: str,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    query: bytes = b"",
) -> tuple[int, bytes]:
    """Send one request as a raw ASGI scope (for inputs an HTTP client would normalise)."""
    messages: list[dict[str, Any]] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return messages[0]["status"], b"".join(m.get("body", b"") for m in messages[1:])

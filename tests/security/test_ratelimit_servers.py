"""One rate limit shared by two uvicorn processes through Redis.

Two real servers serve ``ratelimit_app:app`` on their own ports with the same Redis key
prefix (this test's own); requests alternate between them, and together they get exactly
the limit. The servers are stopped with SIGTERM, so their shutdown hooks close the Redis
connections; the keys go with the ``redis_prefix`` fixture.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import redis_keys
from tests.servers.serverutil import Server, clean_environment, free_port, serve

HERE = Path(__file__).resolve().parent


@contextlib.contextmanager
def uvicorn_server(label: str, workdir: Path, prefix: str) -> Iterator[Server]:
    """``ratelimit_app:app`` under uvicorn on a free port, for the block's duration."""
    port = free_port()
    env = {**clean_environment(HERE), "RATELIMIT_TEST_PREFIX": prefix}
    command = [
        *(sys.executable, "-m", "uvicorn", "ratelimit_app:app"),
        *("--host", "127.0.0.1", "--port", str(port), "--lifespan", "on"),
        *("--log-level", "warning", "--no-access-log"),
    ]
    name = f"uvicorn-{label}"
    with serve(
        name,
        command,
        port=port,
        cwd=HERE,
        env=env,
        log_path=workdir / f"{name}.log",
        ready_path="/plaintext",
    ) as server:
        yield server


@pytest.fixture
def servers(tmp_path: Path, redis_prefix: str) -> Iterator[tuple[Server, Server]]:
    with (
        uvicorn_server("a", tmp_path, redis_prefix) as a,
        uvicorn_server("b", tmp_path, redis_prefix) as b,
    ):
        yield a, b
    for server in (a, b):
        assert server.stopped_cleanly, server.log()
        assert "Traceback" not in server.log(), server.log()


@pytest.mark.parametrize("path", ["/fixed", "/sliding"])
def test_two_processes_share_one_limit(
    servers: tuple[Server, Server], redis_prefix: str, path: str
) -> None:
    """10 per minute; 6 requests to each server -> 10 pass and 2 get 429 with Retry-After."""
    a, b = servers
    with httpx.Client(timeout=30.0) as client:
        responses = [client.get(server.base_url + path) for _ in range(6) for server in (a, b)]
    assert [r.status_code for r in responses] == [200] * 10 + [429] * 2
    assert len({r.json()["pid"] for r in responses[:10]}) == 2  # two processes indeed
    name = path.strip("/")
    items = [r.headers["ratelimit"].split(";") for r in responses[:10]]
    assert [item[:2] for item in items] == [[f'"{name}"', f"r={left}"] for left in range(9, -1, -1)]
    for refused in responses[10:]:
        assert 1 <= int(refused.headers["retry-after"]) <= 120
        assert refused.headers["ratelimit"] == f'"{name}";r=0;t={refused.headers["retry-after"]}'
        assert "rate limit of 10 per 60 seconds exceeded" in refused.json()["error"]["detail"]
    assert len(redis_keys(redis_prefix)) == 1

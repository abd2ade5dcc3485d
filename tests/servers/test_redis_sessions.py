"""Redis sessions shared by two uvicorn processes: set through one, read through the other.

Two real servers serve ``redis_sessions_app:app`` on their own ports with the same Redis key
prefix; one httpx client talks to both, so the session cookie one sets is the one the other
receives (cookies are not told apart by port). The test's Redis keys are deleted at the end.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from .serverutil import HERE, Server, clean_environment, free_port, serve

REDIS_URL = "redis://127.0.0.1:6379/0"


@contextlib.contextmanager
def uvicorn_server(label: str, workdir: Path, prefix: str) -> Iterator[Server]:
    """``redis_sessions_app:app`` under uvicorn on a free port, for the block's duration."""
    port = free_port()
    env = {**clean_environment(HERE), "KETTLE_SESSION_REDIS_PREFIX": prefix}
    command = [
        *(sys.executable, "-m", "uvicorn", "redis_sessions_app:app"),
        *("--host", "127.0.0.1", "--port", str(port), "--lifespan", "on"),
        *("--log-level", "warning", "--no-access-log"),
    ]
    name = f"uvicorn-{label}"
    log_path = workdir / f"{name}.log"
    with serve(
        name, command, port=port, cwd=HERE, env=env, log_path=log_path, ready_path="/plaintext"
    ) as server:
        yield server


def keys(prefix: str) -> list[bytes]:
    with redis.Redis.from_url(REDIS_URL) as client:
        return list(client.scan_iter(match=prefix + "*"))


@pytest.fixture
def prefix() -> Iterator[str]:
    prefix = f"kettle:test:{uuid.uuid4().hex}:"
    yield prefix
    with redis.Redis.from_url(REDIS_URL) as client:
        found = list(client.scan_iter(match=prefix + "*"))
        if found:
            client.delete(*found)
    assert keys(prefix) == []


def test_a_session_set_through_one_server_is_read_through_another(
    tmp_path: Path, prefix: str
) -> None:
    with (
        uvicorn_server("a", tmp_path, prefix) as a,
        uvicorn_server("b", tmp_path, prefix) as b,
        httpx.Client(timeout=30.0) as client,
    ):
        set_on_a = client.get(f"{a.base_url}/set", params={"value": "from A"})
        assert set_on_a.status_code == 200
        cookie = client.cookies["session"]
        assert len(keys(prefix)) == 1  # the data is in Redis, the cookie holds an id

        read_on_b = client.get(f"{b.base_url}/get")
        assert read_on_b.json()["value"] == "from A"
        assert read_on_b.json()["pid"] != set_on_a.json()["pid"]  # two processes indeed

        client.get(f"{b.base_url}/set", params={"value": "from B"})
        assert client.get(f"{a.base_url}/get").json()["value"] == "from B"

        # Log in through A: a new id; the old cookie now means nothing, on either server.
        client.get(f"{a.base_url}/login", params={"user": "ada"})
        assert client.cookies["session"] != cookie
        assert client.get(f"{b.base_url}/get").json()["value"] == "from B"
        with httpx.Client(timeout=30.0, cookies={"session": cookie}) as old:
            assert old.get(f"{b.base_url}/get").json()["value"] is None
        assert len(keys(prefix)) == 1

        # Log out through B: the record goes, for A too.
        client.get(f"{b.base_url}/logout")
        assert keys(prefix) == []
        assert client.get(f"{a.base_url}/get").json()["value"] is None
    for server in (a, b):
        assert "Traceback" not in server.log(), server.log()

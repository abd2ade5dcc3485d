"""SECURITY.md, hostile inputs 55 and 56: load over the concurrency limit, and SIGTERM under load.

Each test starts a server of its own. ``/hold`` streams a first line, then waits until the
test creates ``ROOT/release``, so "in flight" is a state the test controls rather than a
race; nothing here measures time. Cases 53 and 54 (slow clients, clients that never
read) are measured by ``bench/soak.py``, not tested here.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Hostile, build, connect, hostile_server, read_reply, send

#: The body of a finished ``/hold``: anything shorter is a truncated response.
HOLD_BODY = b"start\n" + b"".join(b"line %d\n" % i for i in range(10)) + b"end\n"
WAIT = 30.0  # how long a state may take to show up; a bound on the test, not a claim


def wait_until(condition: object, what: str) -> None:
    """Poll ``condition()`` until it holds; fail naming ``what`` after :data:`WAIT` s."""
    assert callable(condition)
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@contextlib.contextmanager
def holding(target: Hostile, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections, each with a ``/hold`` request its handler is running."""
    sockets = []
    try:
        for i in range(count):
            sock = connect(target)
            sock.sendall(build("GET", "/hold", (f"x-probe: hold-{i}",)))
            sockets.append(sock)
        inflight = target.root / "inflight"
        for i in range(count):
            wait_until((inflight / f"hold-{i}").exists, f"/hold {i} to start")
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def assert_complete(sock: socket.socket) -> None:
    """The ``/hold`` answer on ``sock`` is whole, and the server then closed the socket."""
    reply = read_reply(sock)
    assert (reply.status, reply.body) == (200, HOLD_BODY), reply
    # Its end, not just the last chunk: the server no longer counts this connection.
    assert sock.recv(1) == b""


def test_case_55_over_the_concurrency_limit_fast_503s_then_recovery(tmp_path: Path) -> None:
    with hostile_server("uvicorn", tmp_path, "--limit-concurrency", "3") as target:
        with holding(target, 2) as held:
            # Two requests in flight plus the new connection: at the limit. Every further
            # request is refused at once, while the held ones are still waiting.
            refused = [send(target, "/ping") for _ in range(10)]
            assert [r.status for r in refused] == [503] * 10
            assert not (target.root / "release").exists()
            (target.root / "release").touch()
            for sock in held:
                assert_complete(sock)
        # Full recovery: every request is served again.
        served = [send(target, "/ping") for _ in range(20)]
        assert [(r.status, r.body) for r in served] == [(200, b"pong")] * 20


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


@pytest.mark.parametrize("name", ["uvicorn", "granian", "granian-rsgi"])
def test_case_56_sigterm_lets_in_flight_requests_finish(name: str, tmp_path: Path) -> None:
    with hostile_server(name, tmp_path) as target:
        process = target.server.process
        with holding(target, 6) as held:
            process.send_signal(signal.SIGTERM)
            # The server is shutting down (it no longer accepts) while six requests are
            # mid-response; only now are they let go.
            wait_until(lambda: _refuses_connections(target.port), "the listener to close")
            (target.root / "release").touch()
            for sock in held:
                assert_complete(sock)
        # A clean exit; uvicorn re-raises the signal it handled once it is done.
        assert process.wait(WAIT) in (0, -signal.SIGTERM), target.log()
        assert "Traceback" not in target.log()

"""Run ``wrk`` (the Debian package) pinned to the load CPU and read what it reports.

One thread, keep-alive connections, ``--latency`` for the percentiles. A warm-up run of
the same shape comes first and is thrown away. Errors are wrk's socket errors (connect,
read, write) plus answers that were not 2xx/3xx; timeouts are counted apart, since at
1,000 connections they are the symptom that matters.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.suite.server import LOAD_CPU, pinned

_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_P99 = re.compile(r"^\s*99(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Sample:
    """One measured run: requests/s, p99 latency, error and timeout counts."""

    rps: float
    p99_ms: float
    requests: int
    errors: int
    timeouts: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class WrkError(Exception):
    """wrk failed or printed nothing this module can read."""


def parse(output: str) -> Sample:
    """A :class:`Sample` from wrk's ``--latency`` report."""
    rps = _RPS.search(output)
    p99 = _P99.search(output)
    requests = _REQUESTS.search(output)
    if rps is None or p99 is None or requests is None:
        raise WrkError(f"unreadable wrk output: {output.strip()[-300:]!r}")
    connect = read = write = timeouts = 0
    socket_errors = _SOCKET.search(output)
    if socket_errors is not None:
        connect, read, write, timeouts = (int(n) for n in socket_errors.groups())
    if int(requests.group(1)) == 0:
        # A server still working off the warm-up's queue (gunicorn's threads at io-wait)
        # can answer nothing in a short window: a failure with a reason, not "0 req/s".
        raise WrkError("no request completed in the measured window")
    non_2xx = _NON_2XX.search(output)
    errors = connect + read + write + (int(non_2xx.group(1)) if non_2xx else 0)
    return Sample(
        rps=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _UNIT_MS[p99.group(2)],
        requests=int(requests.group(1)),
        errors=errors,
        timeouts=timeouts,
    )


def command(url: str, connections: int, seconds: float) -> list[str]:
    """The pinned wrk command line for one run."""
    return pinned(
        LOAD_CPU,
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url],
    )


def run(
    url: str,
    connections: int,
    seconds: float,
    warmup: float,
    settle: Callable[[], object] | None = None,
) -> Sample:
    """Warm up for ``warmup`` seconds, ``settle()``, then measure for ``seconds``.

    ``settle`` waits until the server answers again: a server with a thread pool keeps
    working through the requests the warm-up left queued (at 1,000 connections, seconds
    of them), and the measured run should time the server, not that backlog.
    """
    if warmup > 0:
        subprocess.run(
            command(url, connections, warmup), capture_output=True, check=False, timeout=warmup + 60
        )
    if settle is not None:
        settle()
    done = subprocess.run(
        command(url, connections, seconds),
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 60,
    )
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return parse(done.stdout)

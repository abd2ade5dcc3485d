"""In-process dispatch cost: microseconds per request, no server, over ASGI and RSGI.

Serves the suite's own kettle app (``bench.peers.kettle_app``, production defaults) and
the raw ASGI and RSGI ceilings with stand-ins for the server's side of each protocol, so
what is timed is the app alone. Useful under cProfile or py-spy to find hot-path costs::

    python -m bench.inproc 50000
    python -m bench.inproc 50000 --scenarios middleware,routes-1000 --protocols rsgi

On a noisy machine, ``--instructions`` counts instead of timing: each case runs under
``valgrind --tool=callgrind`` for ``n`` and ``2 n`` requests, and the difference over
``n`` is the instructions one request costs (repeatable whatever else the machine does);
plaintext, json and middleware are also counted for the floor apps, which do only what
kettle's API itself needs (``bench/peers/floor_asgi.py``)::

    python -m bench.inproc 2000 --instructions
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.peers import _common as common
from bench.peers import floor_asgi, floor_rsgi, raw_asgi, raw_rsgi
from bench.peers.kettle_app import app

PATHS = {
    "plaintext": "/plaintext",
    "json": "/json",
    "params": "/users/42",
    "middleware": "/mw/json",
    "routes-1000": f"/route{common.ROUTE_COUNT - 1}/42",
}
#: The scenarios the floor apps (kettle's API alone, ``floor_asgi.py``) answer.
FLOOR_SCENARIOS = ("plaintext", "json", "middleware")
#: What a raw ceiling serves in place of a scenario it has no router or middleware for.
RAW_SAME_AS = {"middleware": "json", "routes-1000": "params"}
HEADERS = {"host": "127.0.0.1:8000", "user-agent": "wrk"}

Call = Callable[[str], Awaitable[None]]


def _asgi_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in HEADERS.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    pass


class RSGIScope:
    """The attributes of granian's RSGI scope that an app reads."""

    proto = "http"
    http_version = "1.1"
    rsgi_version = "1.5"
    method = "GET"
    scheme = "http"
    query_string = ""
    client = "127.0.0.1:5000"
    server = "127.0.0.1:8000"
    authority = None

    def __init__(self, path: str) -> None:
        self.path = path
        # granian's header map answers items(), get() and `in`, as a dict does.
        self.headers = dict(HEADERS)


class RSGIProtocol:
    """granian's HTTP protocol object, answering into nothing."""

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        pass

    def response_str(self, status: int, headers: list[tuple[str, str]], body: str) -> None:
        pass

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        pass

    def __aiter__(self) -> RSGIProtocol:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration


def asgi_call(target: Any) -> Call:
    async def call(path: str) -> None:
        await target(_asgi_scope(path), _receive, _send)

    return call


def rsgi_call(target: Any) -> Call:
    protocol = RSGIProtocol()

    async def call(path: str) -> None:
        await target.__rsgi__(RSGIScope(path), protocol)

    return call


async def per_request(call: Call, path: str, n: int) -> float:
    """Best of seven rounds of ``n`` requests, in microseconds per request (the best round
    is the one the machine disturbed least)."""
    for _ in range(1000):
        await call(path)
    rounds = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(n):
            await call(path)
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return min(rounds)


async def main(n: int, scenarios: list[str], protocols: list[str]) -> None:
    app.finalize()
    ceilings = {"asgi": asgi_call(raw_asgi.app), "rsgi": rsgi_call(raw_rsgi.app)}
    kettle = {"asgi": asgi_call(app), "rsgi": rsgi_call(app)}
    for protocol in protocols:
        for scenario in scenarios:
            raw_path = PATHS[RAW_SAME_AS.get(scenario, scenario)]
            raw = await per_request(ceilings[protocol], raw_path, n)
            mine = await per_request(kettle[protocol], PATHS[scenario], n)
            print(
                f"{protocol} {scenario:12} raw {raw:6.2f} us   kettle {mine:6.2f} us   "
                f"extra {mine - raw:5.2f} us"
            )


async def _repeat(protocol: str, scenario: str, n: int) -> None:
    """Serve ``n`` requests of one case (what ``--instructions`` runs under callgrind)."""
    app.finalize()
    if scenario.startswith("raw-"):
        scenario = scenario.removeprefix("raw-")
        ceiling = raw_asgi.app if protocol == "asgi" else raw_rsgi.app
        call = (asgi_call if protocol == "asgi" else rsgi_call)(ceiling)
        path = PATHS[RAW_SAME_AS.get(scenario, scenario)]
    elif scenario.startswith("floor-"):
        scenario = scenario.removeprefix("floor-")
        floor = floor_asgi.app if protocol == "asgi" else floor_rsgi.app
        call = (asgi_call if protocol == "asgi" else rsgi_call)(floor)
        path = PATHS[scenario]
    else:
        call = (asgi_call if protocol == "asgi" else rsgi_call)(app)
        path = PATHS[scenario]
    for _ in range(1000):
        await call(path)
    # Count only the requests: callgrind starts with instrumentation off (startup and
    # warm-up are not counted) and is told to begin here.
    subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True)
    for _ in range(n):
        await call(path)


_TOTAL = re.compile(rb"^summary: (\d+)", re.MULTILINE)


def _instructions(protocol: str, scenario: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "callgrind.out")
        command = [
            *("valgrind", "--tool=callgrind", "--instr-atstart=no"),
            f"--callgrind-out-file={out}",
            *(sys.executable, "-m", "bench.inproc", str(n), "--repeat", f"{protocol}:{scenario}"),
        ]
        # A fixed hash seed: dict probes differ by seed, which moves a count by ~300.
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(command, check=True, capture_output=True, env=env)
        with open(out, "rb") as data:
            found = _TOTAL.search(data.read())
    assert found is not None, "callgrind wrote no summary"
    return int(found.group(1))


def count(n: int, scenarios: list[str], protocols: list[str]) -> None:
    """Print instructions per request for kettle and the raw ceiling, per case."""
    for protocol in protocols:
        for scenario in scenarios:
            each = {}
            cases = ["raw", "floor", "kettle"] if scenario in FLOOR_SCENARIOS else ["raw", "kettle"]
            for case in cases:
                name = scenario if case == "kettle" else f"{case}-{scenario}"
                low = _instructions(protocol, name, n)
                each[case] = (_instructions(protocol, name, 2 * n) - low) / n
            shown = "   ".join(f"{case} {each[case]:8,.0f}" for case in cases)
            print(
                f"{protocol} {scenario:12} {shown}   ratio {each['raw'] / each['kettle']:4.2f}"
                "  (instructions per request)",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=50000)
    parser.add_argument("--scenarios", default=",".join(PATHS))
    parser.add_argument("--protocols", default="asgi,rsgi")
    parser.add_argument("--instructions", action="store_true", help="count under callgrind")
    parser.add_argument("--repeat", metavar="PROTOCOL:SCENARIO", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scenarios, protocols = args.scenarios.split(","), args.protocols.split(",")
    if args.repeat:
        protocol, _, scenario = args.repeat.partition(":")
        asyncio.run(_repeat(protocol, scenario, args.n))
    elif args.instructions:
        count(args.n, scenarios, protocols)
    else:
        asyncio.run(main(args.n, scenarios, protocols))

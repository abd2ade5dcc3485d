"""In-process dispatch cost: microseconds per request for raw ASGI vs kettle (no server).

Usage: python bench/inproc.py [n]. Useful with cProfile/py-spy to find hot-path costs.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from bench.apps import app, raw


def scope_for(path: str) -> dict[str, Any]:
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
        "headers": [(b"host", b"localhost"), (b"user-agent", b"wrk")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: dict[str, Any]) -> None:
    pass


async def run(target: Any, path: str, n: int) -> float:
    scope = scope_for(path)
    for _ in range(1000):
        await target(dict(scope), receive, send)
    start = time.perf_counter()
    for _ in range(n):
        await target(dict(scope), receive, send)
    return (time.perf_counter() - start) / n * 1e6


async def main(n: int) -> None:
    for path in ("/plaintext", "/json", "/users/42"):
        r = min([await run(raw, path, n) for _ in range(3)])
        k = min([await run(app, path, n) for _ in range(3)])
        print(f"{path:12} raw {r:6.2f} us   kettle {k:6.2f} us   extra {k - r:5.2f} us")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50000))

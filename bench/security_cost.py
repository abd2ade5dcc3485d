"""What kettle's default security costs: json with and without it, ratios from one run.

Usage: python bench/security_cost.py [--reps 5] [--duration 8]

Three apps on the same uvicorn (server on CPU 0, wrk on CPU 1, interleaved):
``secure`` (defaults), ``bare`` (security off) and ``by_hand`` (security off, the same
header bytes set by the handler). Reported, as SECURITY.md asks:

* the security layer's own cost: secure ``/json-response`` against by_hand's (same bytes);
* bare vs secure: ``/json`` (a returned dict) with and without the headers — this includes
  the server's cost of writing more header bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
from typing import Any

from bench.inproc import asgi_call, per_request
from bench.quick import free_port, start, wrk
from bench.security_apps import bare, by_hand, secure

RUNS = {
    ("secure", "/json"): "bench.security_apps:secure",
    ("bare", "/json"): "bench.security_apps:bare",
    ("secure", "/json-response"): "bench.security_apps:secure",
    ("by_hand", "/json-response"): "bench.security_apps:by_hand",
}


async def _inproc(n: int) -> None:
    """Microseconds per request of the dispatch alone (no server), best of 7 rounds."""
    apps: dict[str, Any] = {"secure": secure, "bare": bare, "by_hand": by_hand}
    for name, path in RUNS:
        best = await per_request(asgi_call(apps[name]), path, n)
        print(f"{name:8} {path:15} {best:6.2f} us/request", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--inproc", type=int, default=0, help="N requests per in-process round")
    args = parser.parse_args()
    if args.inproc:
        asyncio.run(_inproc(args.inproc))
        return
    results: dict[tuple[str, str], list[float]] = {}
    for rep in range(args.reps):
        for (name, path), target in RUNS.items():
            port = free_port()
            proc = start(target, port)
            try:
                rps, p99 = wrk(port, path, args.duration)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
            results.setdefault((name, path), []).append(rps)
            print(f"rep {rep + 1} {name:8} {path:15} {rps:10.0f} req/s  p99 {p99}", flush=True)

    def cell(key: tuple[str, str]) -> str:
        runs = results[key]
        return f"{statistics.median(runs):,.0f} ({min(runs):,.0f}-{max(runs):,.0f})"

    def ratio(a: tuple[str, str], b: tuple[str, str]) -> float:
        return statistics.median(results[a]) / statistics.median(results[b])

    print("\n| comparison | with security | without | ratio |")
    print("|---|---|---|---|")
    own = (("secure", "/json-response"), ("by_hand", "/json-response"))
    print(
        f"| security layer's own cost (same bytes, JSONResponse) | {cell(own[0])} | "
        f"{cell(own[1])} | {ratio(*own):.3f} |"
    )
    total = (("secure", "/json"), ("bare", "/json"))
    print(
        f"| bare vs secure (returned dict; incl. the server writing the headers) | "
        f"{cell(total[0])} | {cell(total[1])} | {ratio(*total):.3f} |"
    )


if __name__ == "__main__":
    main()

"""Quick side-by-side: kettle vs a raw ASGI app on the same uvicorn, ratios from one run.

Usage: python bench/quick.py [--reps 3] [--duration 8] [--scenarios plaintext,json,params]
Server pinned to CPU 0, wrk to CPU 1 (BENCHMARKS.md protocol); frameworks interleaved.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PATHS = {
    "plaintext": "/plaintext",
    "json": "/json",
    "params": "/users/42",
    "middleware": "/mw/json",
}
APPS = {"raw": "bench.apps:raw", "kettle": "bench.apps:app"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(target: str, port: int) -> subprocess.Popen[bytes]:
    cmd = [
        "taskset",
        "-c",
        "0",
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/plaintext", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{target} did not start")


def wrk(port: int, path: str, duration: int) -> tuple[float, str]:
    url = f"http://127.0.0.1:{port}{path}"
    base = ["taskset", "-c", "1", "wrk", "-t1", "-c64", "--latency"]
    subprocess.run([*base, "-d2s", url], capture_output=True, check=True)  # warm-up
    out = subprocess.run(
        [*base, f"-d{duration}s", url], capture_output=True, check=True, text=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rps, p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--scenarios", default="plaintext,json,params,middleware")
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    results: dict[tuple[str, str], list[float]] = {}
    for rep in range(args.reps):
        for name, target in APPS.items():
            port = free_port()
            proc = start(target, port)
            try:
                for scenario in scenarios:
                    if name == "raw" and scenario == "middleware":
                        continue  # kettle-only: compared with kettle's own json
                    rps, p99 = wrk(port, PATHS[scenario], args.duration)
                    results.setdefault((name, scenario), []).append(rps)
                    print(
                        f"rep {rep + 1} {name:7} {scenario:10} {rps:10.0f} req/s  p99 {p99}",
                        flush=True,
                    )
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
    print("\n| scenario | raw ASGI (median, min-max) | kettle (median, min-max) | ratio |")
    print("|---|---|---|---|")
    for scenario in scenarios:
        if scenario == "middleware":
            mw, js = results[("kettle", "middleware")], results[("kettle", "json")]
            ratio = statistics.median(mw) / statistics.median(js)
            print(
                f"| json behind 10 middlewares (vs kettle json) | {statistics.median(js):,.0f} | "
                f"{statistics.median(mw):,.0f} ({min(mw):,.0f}-{max(mw):,.0f}) | {ratio:.2f} |"
            )
            continue
        raw, ket = results[("raw", scenario)], results[("kettle", scenario)]
        ratio = statistics.median(ket) / statistics.median(raw)
        print(
            f"| {scenario} | {statistics.median(raw):,.0f} ({min(raw):,.0f}-{max(raw):,.0f}) | "
            f"{statistics.median(ket):,.0f} ({min(ket):,.0f}-{max(ket):,.0f}) | {ratio:.2f} |"
        )


if __name__ == "__main__":
    main()

"""Soak kettle on a real server: normal traffic beside slow and never-reading clients.

    python bench/soak.py --server uvicorn --minutes 10
    python bench/soak.py --server granian --minutes 1 --slow-header 100 --baseline 20

Loopback only. The server (one worker, the settings ``kettle run`` gives it) is pinned to
CPU 0 and this process to CPU 1 when both exist. Phases: warm-up, a baseline of normal
traffic alone, the soak (normal traffic beside slow-header, slow-body and never-reading
clients), then a drain with every client gone, after which the app is asked how many
asyncio tasks it still runs. Every 5 s the server's RSS, descriptors and connections are
sampled. The report is printed and written to bench/results/soak-<server>-<date>.md.
Security spec cases 15, 53 and 54; see docs/security-soak.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: make bench and tests importable

from tests.servers.serverutil import clean_environment, free_port, serve  # noqa: E402

from bench import _soak_clients as clients  # noqa: E402
from bench import _soak_report as report  # noqa: E402

APP = "bench.soak_app:app"
SAMPLE_EVERY = 5.0
#: Descriptors kept free beyond the clients' own, for the loop, logs and the probes.
FD_MARGIN = 256


@dataclass
class Run:
    """Everything one soak collects, handed to the report."""

    args: argparse.Namespace
    command: list[str]
    normal: clients.NormalStats = field(default_factory=clients.NormalStats)
    slow: dict[str, clients.SlowStats] = field(default_factory=dict)
    samples: list[report.Sample] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    #: What /_soak/tasks answered before any traffic, and after the drain.
    idle_tasks: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, Any] = field(default_factory=dict)
    #: Connect times of the slow clients still open when the soak phase ended, by kind.
    open_at_end: dict[str, list[float]] = field(default_factory=dict)
    lag: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; see ``--help``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    p.add_argument("--host", default=clients.HOST, help="must be 127.0.0.1 (loopback only)")
    p.add_argument("--minutes", type=float, default=10.0, help="length of the soak phase")
    p.add_argument("--baseline", type=float, default=60.0, help="seconds of normal load alone")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds before the baseline")
    p.add_argument("--connections", type=int, default=32, help="normal keep-alive clients")
    p.add_argument("--rate", type=float, default=1000.0, help="normal req/s in all; 0: max")
    p.add_argument(
        "--requests-per-connection",
        type=int,
        default=100,
        help="normal clients reconnect after this many requests (0: never)",
    )
    p.add_argument("--slow-header", type=int, default=1000, help="slow-header clients")
    p.add_argument("--slow-body", type=int, default=50, help="slow-body clients")
    p.add_argument("--never-read", type=int, default=100, help="never-reading clients")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between slow bytes")
    p.add_argument("--hold", type=float, default=30.0, help="never-reading hang-up, seconds")
    p.add_argument("--max-connections", type=int, default=2000, help="cap on all clients")
    p.add_argument("--body-timeout", help="set KETTLE_BODY_TIMEOUT for the app (seconds)")
    p.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for the server command, repeatable:\n"
        "--server-arg=--header-timeout=5 (kettle run) or --server-arg=--backlog=4096",
    )
    p.add_argument(
        "--launch",
        choices=("kettle-run", "server-cli"),
        default="kettle-run",
        help="start the server with `kettle run` (default), or with its own CLI and the\n"
        "settings kettle run passes (quiet logs; takes the server's own flags)",
    )
    p.add_argument("--out", type=Path, help="report file (default: bench/results/...)")
    args = p.parse_args(argv)
    if args.host != clients.HOST:
        p.error("the soak runs on the loopback interface only: --host 127.0.0.1")
    total = args.connections + args.slow_header + args.slow_body + args.never_read
    if total > args.max_connections:
        p.error(f"{total} client connections exceed --max-connections {args.max_connections}")
    if min(args.connections, args.slow_header, args.slow_body, args.never_read) < 0:
        p.error("client counts cannot be negative")
    if args.connections < 1 or args.minutes <= 0 or args.interval <= 0:
        p.error("need at least one normal connection, and positive --minutes and --interval")
    args.total_connections = total
    return args


def raise_fd_limit(needed: int) -> int:
    """Raise the soft descriptor limit (the server inherits it) to cover ``needed``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + FD_MARGIN
    if hard != resource.RLIM_INFINITY and want > hard:
        raise SystemExit(f"{want} descriptors needed, the hard limit is {hard}: use fewer clients")
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def pinning() -> tuple[list[str], set[int] | None]:
    """The prefix pinning the server to CPU 0, and the CPUs for this process (or none)."""
    cpus = os.sched_getaffinity(0)
    taskset = shutil.which("taskset")
    if {0, 1} <= cpus and taskset:
        return [taskset, "-c", "0"], {1}
    return [], None


def server_command(args: argparse.Namespace, port: int) -> list[str]:
    """The server's command line: ``kettle run`` itself, or the server's own CLI with the
    settings kettle run passes (src/kettle/_serve.py), logging aside.
    """
    python = sys.executable
    where = ("--host", clients.HOST, "--port", str(port))
    extra = args.server_arg
    if args.launch == "kettle-run":
        # Exactly what a user runs, logging included (uvicorn's access log goes to a file).
        return [python, "-m", "kettle", "run", APP, "--server", args.server, *where, *extra]
    if args.server == "uvicorn":
        return [
            *(python, "-m", "uvicorn", APP, *where, "--workers", "1", "--lifespan", "on"),
            *("--http", "httptools", "--loop", "uvloop", "--no-proxy-headers"),
            *("--no-server-header", "--limit-concurrency", "2048", "--timeout-keep-alive", "5"),
            *("--timeout-graceful-shutdown", "30", "--h11-max-incomplete-event-size", "65536"),
            *("--log-level", "warning", "--no-access-log", *extra),
        ]
    return [
        *(python, "-m", "granian", "--interface", "asgi", *where, "--workers", "1"),
        *("--backpressure", "2048", "--http1-header-read-timeout", "10000"),
        *("--http1-keep-alive", "--workers-kill-timeout", "30", "--log-level", "warning"),
        *(*extra, APP),
    ]


async def _sampler(run: Run, probe: report.Probe) -> None:
    normal, slow = run.normal, run.slow
    last_errors = 0
    while True:
        await asyncio.sleep(SAMPLE_EVERY)
        window, normal.window = normal.window, []
        # Off the loop: reading /proc for a thousand connections takes milliseconds, which
        # would otherwise show up as latency in the normal traffic measured on this loop.
        sample = await asyncio.to_thread(probe.sample, normal.phase, window, dict(slow))
        run.samples.append(sample)
        errors = sum(sum(c.values()) for c in normal.errors.values())
        sample.errors = errors - last_errors
        last_errors = errors
        print(report.progress_line(sample), flush=True)
        if not probe.alive():
            raise RuntimeError("the server process exited during the soak")


async def _phase(run: Run, name: str, seconds: float, sampler: asyncio.Task[None]) -> None:
    run.normal.phase = name
    run.marks[name] = time.perf_counter()
    print(f"-- {name}: {seconds:.0f} s", flush=True)
    # The sampler ends only by failing (the server died): that ends the soak too.
    await asyncio.wait({sampler}, timeout=seconds)
    if sampler.done():
        sampler.result()


def _start_slow(run: Run, port: int) -> list[asyncio.Task[None]]:
    a, tasks = run.args, []
    kinds = (
        ("slow-header", a.slow_header, clients.slow_header_client, a.interval),
        ("slow-body", a.slow_body, clients.slow_body_client, a.interval),
        ("never-read", a.never_read, clients.never_reading_client, a.hold),
    )
    for name, count, client, every in kinds:
        stats = run.slow[name] = clients.SlowStats()
        # Opened over one interval, so the server sees a ramp and not a burst of connects.
        delays = clients.spread(count, min(a.interval, every))
        tasks += [asyncio.create_task(client(port, stats, every, delay)) for delay in delays]
    return tasks


async def _drain(run: Run, port: int, idle_tasks: int) -> None:
    """Wait for the server to let go of everything, then ask the app for its tasks."""
    run.normal.phase = "drain"
    run.marks["drain"] = time.perf_counter()
    print("-- drain: every client gone; waiting for the server to settle", flush=True)
    await asyncio.sleep(SAMPLE_EVERY + 1)
    seen: list[int] = []
    for _ in range(15):
        run.tasks = await clients.fetch_json(port, "/_soak/tasks")
        seen.append(int(run.tasks["tasks"]))
        if seen[-1] <= idle_tasks or seen[-3:] == [seen[-1]] * 3:
            break
        await asyncio.sleep(1.0)


async def soak(run: Run, port: int, probe: report.Probe) -> None:
    """The phases, with every client task cancelled (and its socket closed) at the end."""
    a = run.args
    run.idle_tasks = await clients.fetch_json(port, "/_soak/tasks")
    run.samples.append(probe.sample("idle", [], {}))
    interval = a.connections / a.rate if a.rate > 0 else 0.0
    per_connection = a.requests_per_connection
    normal = [
        asyncio.create_task(clients.normal_client(port, run.normal, interval, per_connection, seed))
        for seed in range(a.connections)
    ]
    slow: list[asyncio.Task[None]] = []
    sampler = asyncio.create_task(_sampler(run, probe))
    background = [sampler, asyncio.create_task(clients.loop_lag(run.lag))]
    budget = a.warmup + a.baseline + a.minutes * 60 + 90
    failures: list[str] = []
    hard_stop = asyncio.timeout(budget)
    try:
        async with hard_stop:
            await _phase(run, "warmup", a.warmup, sampler)
            await _phase(run, "baseline", a.baseline, sampler)
            slow = _start_slow(run, port)
            await _phase(run, "soak", a.minutes * 60, sampler)
            run.marks["end"] = time.perf_counter()
            run.open_at_end = {k: list(s.open_since.values()) for k, s in run.slow.items()}
            failures += await clients.cancel_all(slow) + await clients.cancel_all(normal)
            await _drain(run, port, int(run.idle_tasks["tasks"]))
            run.samples.append(probe.sample("drained", [], {}))
    except TimeoutError:
        if not hard_stop.expired():
            raise
        run.notes.append(f"hard stop after {budget:.0f} s: the figures are partial")
    finally:
        failures += await clients.cancel_all(slow) + await clients.cancel_all(normal)
        await clients.cancel_all(background)
        if failures:
            run.notes.append(f"{len(failures)} client tasks failed (a soak bug): {failures[:3]}")


def _log_summary(path: Path) -> str:
    """The server's log, its access lines left out and repeated lines counted once."""
    lines = Counter(
        line.strip()
        for line in path.read_text(errors="replace").splitlines()
        if line.strip() and ' HTTP/1.1" ' not in line  # uvicorn's access log under kettle run
    )
    if not lines:
        return "server log: nothing beyond access lines"
    shown = [
        f"({count} times) {line}" if count > 1 else line for line, count in lines.most_common(12)
    ]
    return "server log (distinct lines, most frequent first):\n\n    " + "\n    ".join(shown)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Run one soak and write its report."""
    args = parse_args(argv)
    # SIGTERM (a `timeout`, a CI runner) unwinds like Ctrl-C: client sockets closed, the
    # server's process group stopped; the default action would leave the server running.
    signal.signal(signal.SIGTERM, _interrupt)
    # This process holds every client socket; the server holds as many again.
    raise_fd_limit(args.total_connections + 64)
    prefix, client_cpus = pinning()
    port = free_port()
    command = [*prefix, *server_command(args, port)]
    run = Run(args, command)
    if not prefix:
        run.notes.append("not pinned: fewer than two CPUs (or no taskset)")
    env = clean_environment(ROOT)
    if args.body_timeout:
        env["KETTLE_BODY_TIMEOUT"] = args.body_timeout
    with tempfile.TemporaryDirectory(prefix="kettle-soak-") as tmp:
        log_path = Path(tmp) / "server.log"
        print("server:", " ".join(command), flush=True)
        with serve(
            args.server, command, port=port, cwd=ROOT, env=env, log_path=log_path,
            ready_path="/plaintext",
        ) as server:  # fmt: skip
            if client_cpus:
                os.sched_setaffinity(0, client_cpus)
            probe = report.Probe(server.process.pid, port)
            try:
                asyncio.run(soak(run, port, probe))
            except BaseException:
                print(_log_summary(log_path), file=sys.stderr)
                raise
        run.notes.append(f"server stopped cleanly: {server.stopped_cleanly}")
        run.notes.append(_log_summary(log_path))
    text = report.markdown(run)
    print("\n" + text)
    stamp = time.strftime("%Y%m%d-%H%M")
    out = args.out or ROOT / "bench" / "results" / f"soak-{args.server}-{stamp}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"report written to {out}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: the server is stopped, no report written", file=sys.stderr)
        sys.exit(130)

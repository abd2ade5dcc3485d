"""What bench/soak.py measures on the server process, and the report it writes.

The server is watched through /proc alone (no psutil): resident memory, open descriptors
and CPU of the server process and its children (granian serves from a worker process),
and its established connections on the soak's port.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench._soak_clients import SlowStats
    from bench.soak import Run

_TCP_ESTABLISHED = "01"
_KINDS = ("slow-header", "slow-body", "never-read")
#: p99 under soak may be this many times the baseline's (security spec case 53).
P99_RATIO_TARGET = 2.0
ERROR_RATE_TARGET = 0.001


@dataclass
class Sample:
    """The server and the normal traffic over one sampling period."""

    at: float
    phase: str
    rss_mb: float
    fds: int
    conns: int
    cpu: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    open: dict[str, int] = field(default_factory=dict)
    ended: dict[str, int] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by the nearest-rank method; nan if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Probe:
    """Reads the server process tree's figures from /proc."""

    def __init__(self, pid: int, port: int) -> None:
        self.pid = pid
        self.port_hex = f":{port:04X}"
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._last = (time.perf_counter(), self._cpu_ticks())

    def alive(self) -> bool:
        try:
            with open(f"/proc/{self.pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def pids(self) -> list[int]:
        """The server process and all its descendants."""
        children: dict[int, list[int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat") as stat:
                        ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(name))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, ()))
        return found

    def _cpu_ticks(self) -> int:
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total

    def _rss_and_fds(self) -> tuple[float, int]:
        rss_pages, fds = 0, 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/statm") as statm:
                    rss_pages += int(statm.read().split()[1])
                fds += len(os.listdir(f"/proc/{pid}/fd"))
            except OSError:
                continue
        return rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20, fds

    def _connections(self) -> int:
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as lines:
                    next(lines)
                    for line in lines:
                        parts = line.split(None, 4)
                        if parts[3] == _TCP_ESTABLISHED and parts[1].endswith(self.port_hex):
                            count += 1
            except OSError:
                continue
        return count

    def sample(self, phase: str, window: list[float], slow: dict[str, SlowStats]) -> Sample:
        """Figures now; ``window`` is the normal latencies since the last sample."""
        now, ticks = time.perf_counter(), self._cpu_ticks()
        then, ticks_then = self._last
        self._last = (now, ticks)
        elapsed = max(now - then, 1e-9)
        rss, fds = self._rss_and_fds()
        return Sample(
            at=now,
            phase=phase,
            rss_mb=rss,
            fds=fds,
            conns=self._connections(),
            cpu=100 * (ticks - ticks_then) / self._ticks / elapsed,
            rps=len(window) / elapsed,
            p50_ms=percentile(window, 0.5) * 1000,
            p99_ms=percentile(window, 0.99) * 1000,
            open={kind: len(stats.open_since) for kind, stats in slow.items()},
            ended={kind: stats.closed_by_server for kind, stats in slow.items()},
        )


def progress_line(s: Sample) -> str:
    """One line per sample, printed while the soak runs."""
    opened = "/".join(str(s.open.get(kind, 0)) for kind in _KINDS)
    ended = "/".join(str(s.ended.get(kind, 0)) for kind in _KINDS)
    return (
        f"[{s.phase:8}] {s.rps:6.0f} req/s p50 {s.p50_ms:5.1f} p99 {s.p99_ms:6.1f} ms "
        f"err {s.errors:<4} | slow hdr/body/read open {opened} ended {ended} | "
        f"RSS {s.rss_mb:6.1f} MB fds {s.fds:5} conns {s.conns:5} cpu {s.cpu:3.0f}%"
    )


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.2f} ms"


def _secs(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return " / ".join(f"{percentile(values, q):.1f}" for q in (0.0, 0.5, 1.0)) + " s"


def _normal(run: Run) -> tuple[list[str], list[str]]:
    n, lines, verdicts = run.normal, [], []
    lines += [
        "## Normal traffic\n",
        "| phase | requests | errors | error rate | p50 | p99 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    p99: dict[str, float] = {}
    for phase in ("baseline", "soak"):
        lat: Sequence[float] = n.latencies.get(phase, [])
        errors = sum(n.errors.get(phase, {}).values())
        total = len(lat) + sum(
            count for kind, count in n.errors.get(phase, {}).items() if "HTTP" not in kind
        )
        rate = errors / total if total else math.nan
        p99[phase] = percentile(lat, 0.99)
        lines.append(
            f"| {phase} | {total:,} | {errors:,} | {rate:.4%} | {_ms(percentile(lat, 0.5))} "
            f"| {_ms(p99[phase])} | {_ms(max(lat, default=math.nan))} |"
        )
        if phase == "soak":
            ok = rate <= ERROR_RATE_TARGET
            verdicts.append(f"{'PASS' if ok else 'FAIL'} soak error rate {rate:.4%} (≤ 0.1 %)")
    ratio = p99["soak"] / p99["baseline"] if p99["baseline"] else math.nan
    ok = ratio <= P99_RATIO_TARGET
    verdicts.append(f"{'PASS' if ok else 'FAIL'} p99 soak/baseline {ratio:.2f}x (≤ 2x)")
    lines.append(f"\np99 soak / baseline: **{ratio:.2f}x** (target ≤ {P99_RATIO_TARGET:g}x).")
    for phase, kinds in n.errors.items():
        lines.append(f"Errors in {phase}: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    if n.schedule_resets:
        lines.append(f"Schedule restarts (a request > 10 s late): {n.schedule_resets}")
    lines += _buckets(run)
    return lines, verdicts


def _buckets(run: Run) -> list[str]:
    n = run.normal
    at: Sequence[float] = n.at.get("soak", [])
    lat: Sequence[float] = n.latencies.get("soak", [])
    if not lat:
        return []
    start = run.marks["soak"] - n.started
    width = max(10.0, run.args.minutes * 6)
    # Requests due a moment before the phase began, or after it ended (while the clients
    # were being stopped), count in the first and the last bucket.
    last = max(0, math.ceil(run.args.minutes * 60 / width) - 1)
    groups: dict[int, list[float]] = {}
    for when, value in zip(at, lat, strict=True):
        index = min(max(0, int((when - start) // width)), last)
        groups.setdefault(index, []).append(value)
    lines = ["\n| soak time | requests | p50 | p99 |", "|---|---|---|---|"]
    for index in sorted(groups):
        values = groups[index]
        lines.append(
            f"| {index * width:.0f}-{(index + 1) * width:.0f} s | {len(values):,} "
            f"| {_ms(percentile(values, 0.5))} | {_ms(percentile(values, 0.99))} |"
        )
    return lines


def _slow(run: Run) -> list[str]:
    a = run.args
    counts = {"slow-header": a.slow_header, "slow-body": a.slow_body, "never-read": a.never_read}
    lines = [
        "\n## Slow clients\n",
        "| kind | clients | connections | ended by server | how | kept by server "
        "(min / p50 / max) | open at soak end (age min / max) |",
        "|---|---|---|---|---|---|---|",
    ]
    end = run.marks.get("end", time.perf_counter())
    for kind, stats in run.slow.items():
        ages = [end - since for since in run.open_at_end.get(kind, [])]
        how = ", ".join(f"{k} {v}" for k, v in stats.endings.items()) or "-"
        if stats.connect_errors:
            how += "; connect errors " + ", ".join(
                f"{k} {v}" for k, v in stats.connect_errors.items()
            )
        spread = f"{min(ages):.1f} / {max(ages):.1f} s" if ages else "-"
        lines.append(
            f"| {kind} | {counts[kind]} | {stats.opened:,} | {stats.closed_by_server:,} | {how} "
            f"| {_secs(stats.lifetimes)} | {len(ages)} ({spread}) |"
        )
    return lines


def _server(run: Run) -> tuple[list[str], list[str]]:
    samples, marks = run.samples, run.marks
    if not samples:
        return [], ["FAIL no samples"]
    soak = [s for s in samples if s.phase == "soak"]
    ramp = marks.get("soak", 0) + run.args.interval + 5
    points = {"idle": samples[0]}
    baseline = [s for s in samples if s.phase == "baseline"]
    if baseline:
        points["baseline end"] = baseline[-1]
    if soak:
        ramped = [s for s in soak if s.at >= ramp] or soak
        points["soak, clients connected"] = ramped[0]
        points["soak middle"] = ramped[len(ramped) // 2]
        points["soak end"] = soak[-1]
    if samples[-1].phase == "drained":
        points["drained"] = samples[-1]
    lines = ["\n## Server process\n", "| when | RSS | fds | connections |", "|---|---|---|---|"]
    lines += [f"| {k} | {s.rss_mb:.1f} MB | {s.fds} | {s.conns} |" for k, s in points.items()]
    verdicts = []
    if "soak end" in points:
        first, last = points["soak, clients connected"], points["soak end"]
        flat = last.rss_mb <= first.rss_mb * 1.1 + 5
        verdicts.append(
            f"{'PASS' if flat else 'FAIL'} RSS over the soak {first.rss_mb:.1f} → "
            f"{last.rss_mb:.1f} MB (flat: ≤ +10 % + 5 MB)"
        )
    if "drained" in points:
        idle, drained = points["idle"], points["drained"]
        ok = drained.fds <= idle.fds + 2
        verdicts.append(
            f"{'PASS' if ok else 'FAIL'} descriptors idle {idle.fds} → drained {drained.fds}"
        )
    return lines, verdicts


def _tasks(run: Run) -> tuple[list[str], list[str]]:
    idle, final = run.idle_tasks, run.tasks
    if not final:
        return [], ["FAIL no task count after the drain"]
    lines = [
        "\n## Tasks (GET /_soak/tasks, its own task included)\n",
        f"- idle, before any load: {idle.get('tasks')} tasks, {idle.get('request_objects')} "
        f"kettle Request objects",
        f"- after the drain: {final['tasks']} tasks, {final['request_objects']} Request objects",
        f"- by coroutine after the drain: {final['by_coroutine']}",
        f"- garbage collections per generation, idle → drained: "
        f"{idle.get('gc_collections')} → {final.get('gc_collections')}",
    ]
    left = int(final["tasks"]) - int(idle.get("tasks", 0))
    verdict = f"{'PASS' if left <= 0 else 'FAIL'} leftover tasks: {left}"
    return lines, [verdict]


def markdown(run: Run) -> str:
    """The whole report as markdown."""
    a = run.args
    lag = percentile(run.lag, 0.99)
    # Program names only: the report is shared, the paths of this machine are not.
    shown = " ".join(os.path.basename(arg) if arg.startswith("/") else arg for arg in run.command)
    head = [
        f"# Soak: kettle on {a.server}, {time.strftime('%Y-%m-%d %H:%M')}\n",
        f"Server ({a.launch}): `{shown}`\n",
        f"Warm-up {a.warmup:g} s, baseline {a.baseline:g} s, soak {a.minutes:g} min. Normal: "
        f"{a.connections} keep-alive connections, {a.rate:g} req/s in all (0: as fast as "
        f"possible), a new connection every {a.requests_per_connection} requests (0: never). "
        f"Slow: {a.slow_header} slow-header, {a.slow_body} slow-body (a byte every "
        f"{a.interval:g} s), {a.never_read} never-reading (hang up after {a.hold:g} s). "
        f"Body timeout: {a.body_timeout or 'the app default'}.\n",
    ]
    normal, v1 = _normal(run)
    server, v2 = _server(run)
    tasks, v3 = _tasks(run)
    lag_line = f"Client loop lag p99: {_ms(lag)}"
    if lag > 0.005:
        lag_line += " — the client process was busy; latencies include its own delay."
    verdicts = ["\n## Verdicts\n", *(f"- {v}" for v in v1 + v2 + v3)]
    notes = ["\n## Notes\n", f"- {lag_line}", *(f"- {note}" for note in run.notes)]
    parts = [*head, *normal, *_slow(run), *server, *tasks, *verdicts, *notes, *_samples(run)]
    return "\n".join(parts) + "\n"


def _samples(run: Run) -> list[str]:
    start = run.samples[0].at if run.samples else 0.0
    lines = [
        "\n<details><summary>Every sample</summary>\n",
        "| t | phase | req/s | p99 | errors | slow open hdr/body/read | RSS | fds | conns | cpu |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in run.samples:
        opened = "/".join(str(s.open.get(kind, 0)) for kind in _KINDS)
        lines.append(
            f"| {s.at - start:.0f} s | {s.phase} | {s.rps:.0f} | {s.p99_ms:.1f} ms | {s.errors} "
            f"| {opened} | {s.rss_mb:.1f} MB | {s.fds} | {s.conns} | {s.cpu:.0f} % |"
        )
    return [*lines, "\n</details>"]

"""kettle's targets (issue 5, BENCHMARKS.md), checked against one run's figures.

Each line states the target, the figure the run measured and whether it is met; a target
whose figures the run did not take (a scenario or framework left out) is skipped.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.suite import frameworks as fws
from bench.suite.results import Results

RatioFn = Callable[[Results, str, str, str], "float | None"]

KETTLES = ("kettle/uvicorn", "kettle/granian-asgi", "kettle/granian-rsgi")
#: Minimum ratio to the same-bytes ceiling on the same server.
CEILING_TARGETS = {"plaintext": 0.90, "json": 0.90, "params": 0.85}
IO_WAIT_RPS = 18_000
IO_WAIT_P99_MS = 100.0


def _line(target: str, measured: str, met: bool | None) -> str:
    verdict = "—" if met is None else ("met" if met else "**not met**")
    return f"| {target} | {measured} | {verdict} |"


def _track_lines(results: Results, track: str, ratio: RatioFn) -> list[str]:
    lines: list[str] = []
    for name in KETTLES:
        server = name.split("/")[1]
        for scenario, floor in CEILING_TARGETS.items():
            r = ratio(results, track, name, scenario)
            if r is not None:
                lines.append(
                    _line(
                        f"{track} {server}: {scenario} ≥ {floor:.2f} x ceiling",
                        f"{r:.2f}",
                        r >= floor,
                    )
                )
        for scenario, base, floor in (
            ("routes-1000", "params", 0.95),
            ("middleware", "json", 0.85),
        ):
            r = results.paired(track, name, scenario, name, base)
            if r is not None:
                lines.append(
                    _line(
                        f"{track} {server}: {scenario} ≥ {floor:.2f} x kettle's {base}",
                        f"{r:.2f}",
                        r >= floor,
                    )
                )
        io = results.summary(track, name, "io-wait")
        if io is not None:
            raw = ratio(results, track, name, "io-wait")
            shown = f"{io.median:,.0f} req/s, p99 {io.p99_ms:.0f} ms"
            shown += f", {raw:.2f} x ceiling" if raw is not None else ""
            met = io.p99_ms < IO_WAIT_P99_MS and (raw is None or raw >= 0.95)
            lines.append(
                _line(
                    f"{track} {server}: io-wait ≥ 0.95 x ceiling (anchor {IO_WAIT_RPS:,}), "
                    f"p99 < {IO_WAIT_P99_MS:.0f} ms",
                    shown,
                    met,
                )
            )
    rsgi = "kettle/granian-rsgi"
    for scenario in ("plaintext", "json"):
        ours, fastify = (
            results.summary(track, rsgi, scenario),
            results.summary(track, "fastify/node", scenario),
        )
        paired = results.paired(track, rsgi, scenario, "fastify/node", scenario)
        if ours and fastify and paired is not None:
            lines.append(
                _line(
                    f"{track} granian-rsgi: {scenario} ≥ Fastify",
                    f"{ours.median:,.0f} vs {fastify.median:,.0f} (paired {paired:.2f})",
                    paired >= 1.0,
                )
            )
    return lines


def _ahead_lines(results: Results, track: str) -> list[str]:
    """kettle against each Python peer, per scenario.

    A peer on a server kettle also runs on is compared with kettle on that server, paired
    by repetition (the two were measured back to back); a peer on a server kettle does
    not run on (Flask on gunicorn or granian WSGI) with kettle's best median.
    """
    scenarios = sorted({run["scenario"] for run in results.runs if run["track"] == track})
    peers = [
        fw
        for fw in fws.FRAMEWORKS
        if not fw.is_ceiling and fw.label not in ("kettle", "floor") and not fw.is_node
    ]
    behind: list[str] = []
    compared = 0
    for scenario in scenarios:
        ours = [results.summary(track, name, scenario) for name in KETTLES]
        best = max((s.median for s in ours if s is not None), default=None)
        for peer in peers:
            theirs = results.summary(track, peer.name, scenario)
            if theirs is None or best is None:
                continue
            mine = f"kettle/{peer.server}"
            if mine in KETTLES and results.summary(track, mine, scenario) is not None:
                quotient = results.paired(track, mine, scenario, peer.name, scenario)
                if quotient is None:
                    continue
                ahead, against = quotient > 1.0, f"{mine} at {quotient:.2f}x"
            else:
                ahead, against = best > theirs.median, f"best {best:,.0f} vs {theirs.median:,.0f}"
            compared += 1
            if not ahead:
                behind.append(f"{scenario}: {peer.name} ({against})")
    if not compared:
        return []
    measured = "ahead in all" if not behind else "kettle behind or level: " + "; ".join(behind)
    return [_line(f"{track}: kettle ahead of every Python peer", measured, not behind)]


def section(results: Results, ratio: RatioFn) -> list[str]:
    """The targets table for every track the run measured."""
    lines: list[str] = []
    for track in results.tracks():
        lines += _track_lines(results, track, ratio)
        lines += _ahead_lines(results, track)
    if not lines:
        return []
    return [
        "## kettle's targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *lines,
        "",
    ]

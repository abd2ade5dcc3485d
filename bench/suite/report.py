"""The Markdown report of a run: setup, headline, kettle's targets, every scenario's table.

Every figure is a median of the run's repetitions with its min-max; a framework's ratio
is the median over repetitions of its figure divided by the raw ceiling's on the same
server, same track, same repetition, measured back to back (for middleware and
routes-1000 the ceiling's json and params: the same bytes).
"""

from __future__ import annotations

from bench.suite import frameworks as fws
from bench.suite import targets
from bench.suite.results import Results
from bench.suite.scenarios import BY_NAME as SCENARIOS
from bench.suite.scenarios import SCENARIOS as ORDER

TRACK_TITLES = {
    "secure": "secure track (production defaults; peers with Helmet's header set)",
    "bare": "bare track (no security headers anywhere)",
}


def ratio(results: Results, track: str, name: str, scenario: str) -> float | None:
    """``name``'s figure over its same-bytes ceiling's, paired by repetition (median)."""
    framework = fws.BY_NAME.get(name)
    if framework is None:
        return None
    same_as = SCENARIOS[scenario].same_as if scenario in SCENARIOS else None
    return results.paired(track, name, scenario, framework.ceiling or name, same_as or scenario)


def _rps(value: float) -> str:
    return f"{value:,.0f}"


def _scenarios(results: Results) -> list[str]:
    seen = {run["scenario"] for run in results.runs}
    seen |= {key.split("|")[2] for key in results.failures}
    return [s.name for s in ORDER if s.name in seen]


def _frameworks(results: Results) -> list[str]:
    seen = {run["framework"] for run in results.runs}
    seen |= {key.split("|")[1] for key in results.failures}
    return [fw.name for fw in fws.FRAMEWORKS if fw.name in seen]


def _setup(results: Results) -> list[str]:
    meta = results.meta
    lines = [
        "## Setup",
        "",
        f"- Started {meta.get('started', '?')}; machine: {meta.get('machine', '?')}.",
        f"- Python {meta.get('python', '?')}, node {meta.get('node', '?')}, "
        f"{meta.get('wrk', 'wrk')}.",
        f"- Server pinned to CPU 0, one worker; `wrk -t1` pinned to CPU 1, "
        f"{meta.get('warmup', '?')} s warm-up + {meta.get('duration', '?')} s measured, "
        f"64 connections (io-wait: 1,000); repetitions: {meta.get('reps', '?')}, interleaved "
        "across frameworks (A B C A B C ...).",
        "- Secure track: kettle with its production defaults (Helmet's set on HTML, the OWASP "
        "API set on JSON and text); the peers add Helmet's header set the idiomatic way "
        "(Express: `helmet()`); the raw ceilings send kettle's bytes. Bare track: none.",
        "- Database: the local PostgreSQL, `world` (10,000 rows) and `fortune` (12 rows) "
        "made afresh by the suite; a fresh query per request, pool of "
        f"{meta.get('pool_size', '?')} connections per server.",
    ]
    versions = meta.get("versions", {})
    if versions:
        lines.append(
            "- Versions: " + ", ".join(f"{name} {ver}" for name, ver in sorted(versions.items()))
        )
    commands = meta.get("commands", {})
    if commands:
        lines += ["", "<details><summary>Server commands</summary>", ""]
        lines += [f"- `{name}`: `{command}`" for name, command in commands.items()]
        lines += ["", "</details>"]
    return [*lines, ""]


def headline(results: Results, track: str = "secure") -> list[str]:
    """kettle against the peers README names, requests/s (median), one row per scenario."""
    names = [name for name in fws.HEADLINE if results.has(track, name)]
    if not names:
        return []
    lines = [
        f"## Headline ({track} track, requests/s, median of the run)",
        "",
        "| scenario | " + " | ".join(fws.BY_NAME[n].title for n in names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for scenario in _scenarios(results):
        cells = []
        for name in names:
            summary = results.summary(track, name, scenario)
            cells.append(_rps(summary.median) if summary else "—")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def scenario_table(results: Results, track: str, scenario: str) -> list[str]:
    lines = [
        f"### {scenario} — {track}",
        "",
        "| framework | server | req/s median | min-max | p99 | errors | timeouts | x ceiling |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows: list[tuple[float, str]] = []
    for name in _frameworks(results):
        framework = fws.BY_NAME[name]
        same_as = SCENARIOS[scenario].same_as
        if framework.is_ceiling and same_as:
            continue  # the ceilings' figure for these is their json / params
        summary = results.summary(track, name, scenario)
        display = fws.DISPLAY.get(framework.label, framework.label)
        label = f"**{display}**" if framework.label == "kettle" else display
        if summary is None:
            reason = results.failure(track, name, scenario)
            if reason is None:
                continue
            reason = reason.replace("|", "/").replace("\n", " ")
            rows.append((-1.0, f"| {label} | {framework.server} | failed: {reason} ||||||"))
            continue
        r = ratio(results, track, name, scenario)
        shown = "ceiling" if framework.is_ceiling else (f"{r:.2f}" if r is not None else "—")
        rows.append(
            (
                summary.median,
                f"| {label} | {framework.server} | {_rps(summary.median)} | "
                f"{_rps(summary.low)}-{_rps(summary.high)} | {summary.p99_ms:.1f} ms | "
                f"{summary.errors} | {summary.timeouts} | {shown} |",
            )
        )
    rows.sort(key=lambda row: -row[0])
    return [*lines, *(row for _, row in rows), ""]


def _unsized(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, "*" if k == "content-length" else v) for k, v in headers]


def same_bytes(results: Results) -> list[str]:
    """Does each raw ceiling send the headers kettle sends on its server? (It must.)"""
    lines = ["## Same bytes: raw ceilings against kettle", ""]
    pairs = [
        ("kettle/uvicorn", "raw-asgi/uvicorn"),
        ("kettle/granian-asgi", "raw-asgi/granian-asgi"),
        ("kettle/granian-rsgi", "raw-rsgi/granian-rsgi"),
    ]
    for track in results.tracks():
        for kettle, ceiling in pairs:
            for scenario in (s.name for s in ORDER):
                ours = results.sent_headers(track, kettle, scenario)
                theirs = results.sent_headers(track, ceiling, scenario)
                if not ours or not theirs:
                    continue
                if scenario == "db":
                    # The row differs per request, and so does the body's length.
                    ours, theirs = _unsized(ours), _unsized(theirs)
                if ours == theirs:
                    verdict = "identical headers"
                else:
                    verdict = f"**differ**: kettle {ours} vs ceiling {theirs}"
                lines.append(f"- {track}, {scenario}, {kettle.split('/')[1]}: {verdict}")
    return [*lines, ""]


def render(results: Results) -> str:
    """The whole report."""
    title = results.meta.get("title", "kettle side by side")
    out = [f"# {title} — {results.meta.get('started', '')}", ""]
    out += _setup(results)
    out += headline(results)
    out += targets.section(results, ratio)
    for track in results.tracks():
        out += [f"## {TRACK_TITLES.get(track, track)}", ""]
        for scenario in _scenarios(results):
            out += scenario_table(results, track, scenario)
    out += same_bytes(results)
    if results.notes:
        out += ["## Notes", "", *(f"- {note}" for note in results.notes), ""]
    return "\n".join(out).rstrip() + "\n"

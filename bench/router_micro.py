"""Router micro-benchmark: nanoseconds per match for 10 to 10,000 routes, in-process.

kettle (``Kettle.match``) against Starlette's router (its linear walk over ``router.routes``)
and Werkzeug's ``Map``, for static routes ``/static/r{i}`` and dynamic ``/items{i}/<int:id>``,
matching the first, middle and last route and a miss. Loop overhead is included (the same few
nanoseconds for every router). Run from the repository root with a Python that has kettle,
Starlette, Werkzeug and (for the chart) matplotlib::

    python -m bench.router_micro [--counts 10,100,1000,10000] [--rounds 5] [--profile]

It prints a Markdown table and writes ``bench/results/router-<date>.md`` and ``.png``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import gc
import importlib
import importlib.util
import io
import platform
import pstats
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, Rule

from kettle import Kettle, Request

KINDS = ("static", "dynamic")
POSITIONS = ("first", "middle", "last", "miss")
ROUTERS = ("kettle", "starlette", "werkzeug")
RESULTS = Path(__file__).resolve().parent / "results"
# kettle's last-route time may grow this much from the smallest to the largest table and
# still count as flat: a 10,000-entry dict misses the CPU cache more often than a 10-entry one.
FLAT = 1.5

# One prepared match: a callable and the single argument it is timed with.
Prepared = tuple[Callable[[Any], Any], Any]


@dataclass(frozen=True)
class Case:
    """One measured cell: router, route kind, route count, which path, ns per match."""

    router: str
    kind: str
    count: int
    position: str
    ns: float


def target_index(position: str, count: int) -> int:
    """The route index a position names; the miss uses the index one past the last."""
    return {"first": 0, "middle": count // 2, "last": count - 1, "miss": count}[position]


def request_path(kind: str, index: int) -> str:
    """The request path that hits route ``index`` of a table of ``kind``."""
    return f"/static/r{index}" if kind == "static" else f"/items{index}/42"


def _scope(path: str) -> dict[str, Any]:
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
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


# -- the three routers -------------------------------------------------------------------


def kettle_router(kind: str, count: int) -> Callable[[str, int | None], Prepared]:
    """A finalized app with ``count`` routes; returns a preparer for one path."""
    app = Kettle(__name__, config={"SECRET_KEY": "router-micro-" + "k" * 32}, static_folder=None)

    def page() -> str:
        return ""

    def item(id: int) -> str:
        return str(id)

    for i in range(count):
        if kind == "static":
            app.add_route(f"/static/r{i}", page, name=f"r{i}")
        else:
            app.add_route(f"/items{i}/<int:id>", item, name=f"r{i}")
    app.finalize()

    def prepare(path: str, expected: int | None) -> Prepared:
        req = Request(_scope(path), _receive, app)
        app.match(req)
        got = req.route.name if req.route is not None else None
        _check("kettle", path, got, expected)
        # match only ever sets req.route (a miss leaves it None), so one request serves
        # every repetition without a reset.
        return app.match, req

    return prepare


def starlette_router(kind: str, count: int) -> Callable[[str, int | None], Prepared]:
    """A Starlette ``Router`` with ``count`` routes and a copy of its matching loop."""
    routing = importlib.import_module("starlette.routing")
    full, partial_, none = routing.Match.FULL, routing.Match.PARTIAL, routing.Match.NONE

    async def endpoint(request: Any) -> None:
        return None

    if kind == "static":
        paths = [f"/static/r{i}" for i in range(count)]
    else:
        paths = [f"/items{i}/{{id:int}}" for i in range(count)]
    router = routing.Router(
        routes=[routing.Route(p, endpoint, name=f"r{i}") for i, p in enumerate(paths)]
    )
    routes = router.routes

    def match(scope: dict[str, Any]) -> Any:
        # Router.__call__'s search, minus the dispatch: first FULL match wins, the first
        # PARTIAL one (wrong method) is remembered, and a miss tries the path with its
        # trailing slash toggled before giving up (redirect_slashes is on by default).
        partial = None
        for route in routes:
            found, _child = route.matches(scope)
            if found is full:
                return route
            if found is partial_ and partial is None:
                partial = route
        if partial is not None:
            return partial
        path = scope["path"]
        if path != "/":
            other = dict(scope)
            other["path"] = path.rstrip("/") if path.endswith("/") else path + "/"
            for route in routes:
                found, _child = route.matches(other)
                if found is not none:
                    return None
        return None

    def prepare(path: str, expected: int | None) -> Prepared:
        scope = _scope(path)
        hit = match(scope)
        _check("starlette", path, hit.name if hit is not None else None, expected)
        return match, scope

    return prepare


def werkzeug_router(kind: str, count: int) -> Callable[[str, int | None], Prepared]:
    """A Werkzeug ``Map`` with ``count`` rules, bound once to a host."""
    if kind == "static":
        rules = [Rule(f"/static/r{i}", endpoint=f"r{i}") for i in range(count)]
    else:
        rules = [Rule(f"/items{i}/<int:id>", endpoint=f"r{i}") for i in range(count)]
    adapter = Map(rules).bind("localhost")

    def miss(path: str) -> Any:
        try:
            return adapter.match(path)
        except NotFound:
            return None

    def prepare(path: str, expected: int | None) -> Prepared:
        hit = miss(path)
        _check("werkzeug", path, hit[0] if hit is not None else None, expected)
        # A hit is timed on adapter.match itself; only the miss needs the wrapper that
        # catches NotFound (raising it is Werkzeug's way of saying "no route").
        return (adapter.match if expected is not None else miss), path

    return prepare


def _check(router: str, path: str, got: str | None, expected: int | None) -> None:
    # Routes are named r0, r1, ...: a wrong winner would make every figure meaningless.
    want = None if expected is None else f"r{expected}"
    if got != want:
        raise AssertionError(f"{router} matched {got!r} for {path}, expected {want!r}")


BUILDERS: dict[str, Callable[[str, int], Callable[[str, int | None], Prepared]]] = {
    "kettle": kettle_router,
    "starlette": starlette_router,
    "werkzeug": werkzeug_router,
}


# -- timing --------------------------------------------------------------------------------


def _loop(fn: Callable[[Any], Any], arg: Any, number: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(number):
        fn(arg)
    return time.perf_counter_ns() - start


def measure(
    routers: list[str], counts: list[int], rounds: int, number: int, round_ns: float
) -> tuple[list[Case], dict[tuple[str, str, int], float]]:
    """Every (router, kind, count, position) cell, and the seconds each table took to build.

    All tables are built first; then each round times every cell once, so a burst of load
    from elsewhere on the machine spoils one round of many cells rather than every round of
    a few, and the best of the rounds is kept. A slow cell (Starlette at 10,000 routes takes
    milliseconds a match) runs fewer matches a round, as many as fit in about ``round_ns``.
    """
    cells: list[tuple[tuple[str, str, int, str], Prepared, int]] = []
    build: dict[tuple[str, str, int], float] = {}
    for kind in KINDS:
        for count in counts:
            for router in routers:
                print(f"  building {router} {kind} {count:,}", file=sys.stderr, flush=True)
                start = time.perf_counter()
                prepare = BUILDERS[router](kind, count)
                build[router, kind, count] = time.perf_counter() - start
                for position in POSITIONS:
                    index = target_index(position, count)
                    expected = None if position == "miss" else index
                    fn, arg = prepare(request_path(kind, index), expected)
                    estimate = _loop(fn, arg, 10) / 10
                    times = max(3, min(number, int(round_ns / max(estimate, 1.0))))
                    cells.append(((router, kind, count, position), (fn, arg), times))
    best = dict.fromkeys((key for key, _, _ in cells), float("inf"))
    enabled = gc.isenabled()
    gc.disable()
    try:
        for round_ in range(rounds):
            print(f"  round {round_ + 1} of {rounds}", file=sys.stderr, flush=True)
            for key, (fn, arg), times in cells:
                best[key] = min(best[key], _loop(fn, arg, times) / times)
    finally:
        if enabled:
            gc.enable()
    return [Case(*key, ns) for key, ns in best.items()], build


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        # kettle run from the source tree (on sys.path, not installed) has no metadata.
        return str(getattr(importlib.import_module(dist), "__version__", "?"))


def series(cases: list[Case], router: str, kind: str, position: str) -> dict[int, float]:
    """ns per match by route count for one router, kind and position, smallest count first."""
    cells = [c for c in cases if (c.router, c.kind, c.position) == (router, kind, position)]
    return {c.count: c.ns for c in sorted(cells, key=lambda c: c.count)}


def growth(row: dict[int, float]) -> float:
    """How many times slower the largest table is than the smallest."""
    values = list(row.values())
    return values[-1] / values[0]


def verdict(cases: list[Case], routers: list[str]) -> list[str]:
    """Whether kettle's last-route time stayed flat while the peers' grew, per kind."""
    lines = []
    for kind in KINDS:
        k = growth(series(cases, "kettle", kind, "last"))
        line = f"- {kind}: kettle's last route x{k:.2f} from the smallest table to the largest"
        line += " (flat)" if k <= FLAT else f" (NOT flat: more than x{FLAT})"
        for peer in routers[1:]:
            line += f"; {peer} x{growth(series(cases, peer, kind, 'last')):,.1f}"
        lines.append(line + ".")
    return lines


def report(
    cases: list[Case],
    build: dict[tuple[str, str, int], float],
    routers: list[str],
    counts: list[int],
    rounds: int,
    number: int,
) -> str:
    """The Markdown report: one table per route kind, build times and the verdict."""
    out = [
        f"# Router micro-benchmark, {datetime.date.today().isoformat()}",
        "",
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}; "
        + ", ".join(f"{r} {_version(r)}" for r in routers)
        + f". Nanoseconds per match, in-process (no server), best of {rounds} interleaved "
        f"rounds of up to {number:,} matches (fewer where a round would take over ~0.1 s), "
        "garbage collector off. kettle: `app.match(req)` on a prebuilt `Request`; Starlette: the "
        "`Router.__call__` loop over `route.matches(scope)`; Werkzeug: `match(path)` on a "
        "`Map` bound once to a host. A miss includes each router's trailing-slash retry.",
        "",
    ]
    columns = " | ".join(f"{n:,}" for n in counts)
    for kind in KINDS:
        pattern = "/static/r{i}" if kind == "static" else "/items{i}/<int:id>"
        out += [f"## {kind} routes `{pattern}`", "", f"| router | path | {columns} | growth |"]
        out.append("|---|---|" + "--:|" * (len(counts) + 1))
        for router in routers:
            for position in POSITIONS:
                row = series(cases, router, kind, position)
                cells = " | ".join(f"{ns:,.0f}" for ns in row.values())
                out.append(f"| {router} | {position} | {cells} | x{growth(row):,.2f} |")
        out.append("")
    out += ["## Seconds to build each table (registration and compile)", ""]
    out += [f"| router | kind | {columns} |", "|---|---|" + "--:|" * len(counts)]
    for router in routers:
        for kind in KINDS:
            cells = " | ".join(f"{build[router, kind, n]:.3f}" for n in counts)
            out.append(f"| {router} | {kind} | {cells} |")
    out += ["", "## Verdict", "", *verdict(cases, routers), ""]
    return "\n".join(out)


def chart(cases: list[Case], routers: list[str], path: Path) -> bool:
    """A PNG of ns per match against route count; False when matplotlib is missing."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        return False
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, kind in zip(axes, KINDS, strict=True):
        for colour, router in enumerate(routers):
            for position, style in (("last", "-o"), ("miss", ":x")):
                row = series(cases, router, kind, position)
                label = f"{router} ({position})"
                ax.plot(list(row), list(row.values()), style, color=f"C{colour}", label=label)
        ax.set_xscale("log")
        # Starlette spans four orders of magnitude: on a linear axis kettle's line would lie
        # on zero and its flatness could not be seen.
        ax.set_yscale("log")
        ax.set_title(f"{kind} routes")
        ax.set_xlabel("routes in the table")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ns per match (log scale)")
    axes[1].legend(fontsize=8)
    fig.suptitle("Router match time against route count (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def profile(count: int) -> str:
    """cProfile of kettle matching the last route of a ``count``-route table, per kind."""
    out = []
    for kind in KINDS:
        fn, arg = kettle_router(kind, count)(request_path(kind, count - 1), count - 1)
        profiler = cProfile.Profile()
        profiler.runcall(_loop, fn, arg, 200_000)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(8)
        out.append(f"### kettle, {kind}, {count:,} routes\n\n```\n{text.getvalue().strip()}\n```\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write the report and the chart."""
    parser = argparse.ArgumentParser(description="Router match time against route count.")
    parser.add_argument("--counts", default="10,100,1000,10000", help="comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=20_000, help="matches per round at most")
    parser.add_argument("--round-seconds", type=float, default=0.1, help="time a round aims for")
    parser.add_argument("--profile", action="store_true", help="append a cProfile of kettle")
    parser.add_argument("--no-write", action="store_true", help="print only, write no files")
    args = parser.parse_args(argv)
    counts = sorted(int(n) for n in args.counts.split(","))
    routers = list(ROUTERS)
    if importlib.util.find_spec("starlette") is None:
        print("Starlette is not installed here: left out", file=sys.stderr)
        routers.remove("starlette")
    print(f"measuring {', '.join(routers)} at {counts} routes", file=sys.stderr)
    cases, build = measure(routers, counts, args.rounds, args.number, args.round_seconds * 1e9)
    text = report(cases, build, routers, counts, args.rounds, args.number)
    if args.profile:
        text += "\n## Profile\n\n" + profile(counts[-1])
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        stem = RESULTS / f"router-{datetime.date.today().isoformat()}"
        stem.with_suffix(".md").write_text(text + "\n")
        drawn = chart(cases, routers, stem.with_suffix(".png"))
        note = "and the chart" if drawn else "(matplotlib missing: no chart)"
        print(f"wrote {stem.with_suffix('.md')} {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

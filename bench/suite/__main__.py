"""``python -m bench.suite``: kettle against the raw ceilings and its peers, side by side.

    python -m bench.suite                      # the full run (both tracks, 3 repetitions)
    python -m bench.suite --quick              # a smoke check: 1 short rep, a few apps
    python -m bench.suite --quick --frameworks all --scenarios all
    python -m bench.suite --tracks secure --scenarios plaintext,json --frameworks kettle,fastify
    python -m bench.suite --report bench/results/raw/A.json bench/results/raw/B.json
    python -m bench.suite --list

The first call creates ``bench/.venv-peers`` and installs the node peers; the command
then runs itself again inside that venv. A full run writes ``bench/results/<date>.md``
and ``<date>.png``; a quick one writes under ``bench/results/raw/`` (not committed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.suite import env
from bench.suite import frameworks as fws
from bench.suite import scenarios as sc

if TYPE_CHECKING:
    from bench.suite.results import Results

RESULTS = fws.BENCH / "results"
RAW = RESULTS / "raw"
#: Whose versions the report lists.
PY_PACKAGES = (
    "kettle", "uvicorn", "granian", "gunicorn", "starlette", "fastapi", "blacksheep",
    "litestar", "quart", "flask", "msgspec", "orjson", "asyncpg", "psycopg",
)  # fmt: skip
NODE_PACKAGES = ("express", "fastify", "helmet", "pg")


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else platform.processor() or "?"


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.suite", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="one short repetition, a few apps")
    parser.add_argument("--scenarios", help="comma-separated, or 'all' (default: all; quick: "
                        + ",".join(sc.QUICK) + ")")  # fmt: skip
    parser.add_argument("--frameworks", help="names, labels (kettle), 'default' or 'all'")
    parser.add_argument("--tracks", help="secure,bare (default: both; quick: secure)")
    parser.add_argument("--reps", type=int, help="repetitions (default 3; quick 1)")
    parser.add_argument("--duration", type=float, help="measured seconds (default 8; quick 3)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds (default 2; quick 1)")
    parser.add_argument("--out", help="report name under bench/results/ (default: the date)")
    parser.add_argument("--report", nargs="+", type=Path, help="rebuild a report from raw JSON")
    parser.add_argument("--list", action="store_true", help="list frameworks and scenarios")
    parser.add_argument("--reinstall", action="store_true", help="reinstall the peers venv")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG")
    return parser.parse_args(argv)


def _scenarios(spec: str | None, quick: bool) -> list[sc.Scenario]:
    if spec is None or spec == "all":
        names = list(sc.QUICK) if quick and spec is None else [s.name for s in sc.SCENARIOS]
    else:
        names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in sc.BY_NAME]
    if unknown:
        raise SystemExit(f"unknown scenarios {unknown}; known: {', '.join(sc.BY_NAME)}")
    return [s for s in sc.SCENARIOS if s.name in names]


def _list() -> None:
    print("frameworks (* = in the default run):")
    for fw in fws.FRAMEWORKS:
        ceiling = f"ratio to {fw.ceiling}" if fw.ceiling else "raw ceiling"
        print(f"  {'*' if fw.default else ' '} {fw.name:26} {ceiling}")
    print("scenarios:")
    for s in sc.SCENARIOS:
        print(f"    {s.name:12} GET {s.path}  ({s.connections} connections)")


def _meta(
    args: argparse.Namespace, plan_reps: int, duration: float, warmup: float
) -> dict[str, object]:
    from importlib import metadata

    from bench.peers import _common

    cpu = _cpu_model()
    versions: dict[str, str] = {}
    for name in PY_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    for name in NODE_PACKAGES:
        package = fws.NODE_DIR / "node_modules" / name / "package.json"
        if package.exists():
            versions[name] = json.loads(package.read_text())["version"]
    wrk_line = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "title": "kettle side by side" + (" (quick)" if args.quick else ""),
        "started": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{cpu}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "node": env.node_version() or "absent",
        "wrk": (wrk_line.stdout or wrk_line.stderr).split("[")[0].strip() or "wrk",
        "reps": plan_reps,
        "duration": duration,
        "warmup": warmup,
        "pool_size": _common.POOL_SIZE,
        "versions": versions,
    }


def _shown(path: Path) -> str:
    return str(path.relative_to(fws.ROOT)) if path.is_relative_to(fws.ROOT) else str(path)


def _write(results: Results, name: str, directory: Path, chart: bool) -> None:
    """Write ``<name>.md`` (and ``.png``) into ``directory``; ``name`` may be a path."""
    from bench.suite import report

    base = directory / name
    base.parent.mkdir(parents=True, exist_ok=True)
    md = base.with_name(base.name + ".md")
    md.write_text(report.render(results))
    print(f"\nwrote {_shown(md)}")
    if chart:
        from bench.suite import chart as charts

        try:
            png = charts.draw(results, base.with_name(base.name + ".png"))
            print(f"wrote {_shown(png)}")
        except (ValueError, ImportError) as exc:
            print(f"no chart: {exc}")
    print("\n" + "\n".join(report.headline(results)))


def _mark_unavailable(results: Results, chosen: list[fws.Framework], tracks: list[str]) -> None:
    """Record as failed, before any start, the apps that cannot run in this checkout."""
    from kettle import Kettle

    if not hasattr(Kettle(__name__), "__rsgi__"):
        for fw in chosen:
            if fw.label == "kettle" and fw.server == "granian-rsgi":
                for track in tracks:
                    results.fail(track, fw.name, "*", "kettle has no RSGI adapter (__rsgi__) yet")


def _free_name(directory: Path, base: str) -> str:
    name, n = base, 1
    while (directory / f"{name}.md").exists():
        n += 1
        name = f"{base}-{n}"
    return name


def main(argv: list[str]) -> None:
    args = _arguments(argv)
    if args.list:
        _list()
        return
    if not env.in_venv():
        missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
        if missing and not args.report:
            raise SystemExit(
                f"needs {' and '.join(missing)} (Debian: apt-get install wrk util-linux)"
            )
        env.reexec_in_venv(env.ensure_python(force=args.reinstall), argv)

    from bench.suite import database, runner
    from bench.suite.results import Results

    if args.report:
        merged = Results.merge(Results.load(path) for path in args.report)
        _write(merged, args.out or args.report[0].stem, RESULTS, not args.no_chart)
        return
    quick = args.quick
    reps = args.reps or (1 if quick else 3)
    duration = args.duration or (3.0 if quick else 8.0)
    warmup = args.warmup if args.warmup is not None else (1.0 if quick else 2.0)
    tracks = (args.tracks or ("secure" if quick else "secure,bare")).split(",")
    if any(track not in ("secure", "bare") for track in tracks):
        raise SystemExit("--tracks takes secure, bare or secure,bare")
    chosen = fws.select(args.frameworks, quick=quick)
    from bench.peers import _common

    plan = runner.Plan(chosen, _scenarios(args.scenarios, quick), tracks, reps, duration,
                       warmup, _common.DATABASE_URL)  # fmt: skip
    results = Results(meta=_meta(args, reps, duration, warmup))
    _mark_unavailable(results, chosen, tracks)
    if any(fw.is_node for fw in chosen):
        reason = env.ensure_node()
        if reason is not None:
            for fw in (fw for fw in chosen if fw.is_node):
                for track in tracks:
                    results.fail(track, fw.name, "*", reason)
    # io-wait holds 1,000 connections open on each side of the loopback.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    print("preparing the world and fortune tables ...", flush=True)
    try:
        world = database.prepare(plan.database_url)
    except Exception as exc:  # asyncpg's errors, OSError, a missing driver: all alike here
        # The apps open their pools at startup, so they will fail to start and say why.
        results.note(f"the database could not be prepared: {exc!r}")
        print(f"the database could not be prepared: {exc!r}", flush=True)
        world = {}
    runs, seconds = runner.estimate(plan)
    print(f"{len(chosen)} apps x {len(plan.scenarios)} scenarios x {len(tracks)} tracks x "
          f"{reps} reps = {runs} timed runs, about {seconds / 60:.0f} min", flush=True)  # fmt: skip
    stamp = time.strftime("%Y-%m-%d-%H%M%S")
    raw_path = RAW / f"{'quick-' if quick else ''}{stamp}.json"
    runner.run(plan, results, world, RAW / "logs", raw_path)
    print(f"raw results: {_shown(raw_path)}")
    if quick:
        _write(results, f"quick-{stamp}", RAW, not args.no_chart)
    else:
        directory = RESULTS
        _write(results, args.out or _free_name(directory, time.strftime("%Y-%m-%d")), directory,
               not args.no_chart)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])

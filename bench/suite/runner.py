"""The measuring loop: a server family at a time, its apps back to back per scenario.

Order: for each repetition, for each track, for each server family (uvicorn; granian
with node; the WSGI servers), every app of the family is started at once (all pinned to
the server CPU, each on its own port; an idle server costs nothing), then each scenario
is measured on every app in turn, each ceiling first and the apps measured against it
right after. A ratio then compares figures taken seconds apart, not the minutes a
framework-at-a-time order put between an app and its ceiling; the frameworks are still
interleaved (A B C A B C ...) within and across repetitions. A family whose apps need
another server setup for some scenario (gunicorn's threads for io-wait) is started again
for those. On its first start each app answers every scenario once and is checked; an
app that fails a check is not timed on that scenario, one that will not start is
recorded as failed, and the run goes on.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.suite import scenarios as sc
from bench.suite import server as srv
from bench.suite import wrk
from bench.suite.frameworks import ROOT, Framework
from bench.suite.results import ANY_SCENARIO, Results

#: Seconds a server start and its checks take, for the time estimate.
START_COST = 3.0
#: The largest database pool an app gets (what one app alone would use).
POOL_SIZE = 16
#: Connections a whole family's pools may hold: PostgreSQL allows 100 by default, and a
#: pool keeps what it opened, so idle apps of the family still hold theirs.
POOL_BUDGET = 84


@dataclass(frozen=True)
class Plan:
    """What to measure and how long."""

    frameworks: list[Framework]
    scenarios: list[sc.Scenario]
    tracks: list[str]
    reps: int
    duration: float
    warmup: float
    database_url: str


def timed(framework: Framework, scenario: sc.Scenario) -> bool:
    """Whether ``framework`` is timed on ``scenario`` (ceilings skip the same-bytes ones)."""
    return not (framework.is_ceiling and scenario.same_as)


def families(frameworks: list[Framework]) -> list[list[Framework]]:
    """``frameworks`` split into server families, each ceiling followed by its apps."""
    by_family: dict[str, list[Framework]] = {}
    for framework in frameworks:
        by_family.setdefault(framework.family, []).append(framework)
    ordered = []
    for members in by_family.values():
        family = []
        for ceiling in (fw for fw in members if fw.is_ceiling):
            family.append(ceiling)
            family += [fw for fw in members if fw.ceiling == ceiling.name]
        family += [fw for fw in members if fw not in family]
        ordered.append(family)
    return ordered


def groups(family: list[Framework], chosen: list[sc.Scenario]) -> list[list[sc.Scenario]]:
    """The selected scenarios split by the server setups they need (usually one group)."""
    by_setup: dict[tuple[tuple[str, ...], ...], list[sc.Scenario]] = {}
    for scenario in chosen:
        setup = tuple(tuple(fw.command(0, scenario.name)) for fw in family)
        by_setup.setdefault(setup, []).append(scenario)
    return list(by_setup.values())


def pool_size(family: list[Framework]) -> int:
    """Connections each app's database pool may open, so a family fits PostgreSQL's limit."""
    return max(1, min(POOL_SIZE, POOL_BUDGET // len(family)))


def estimate(plan: Plan) -> tuple[int, float]:
    """(number of timed runs, seconds the whole plan should take)."""
    runs = starts = 0
    for family in families(plan.frameworks):
        for group in groups(family, plan.scenarios):
            runs += sum(1 for fw in family for s in group if timed(fw, s))
            starts += len(family)
    runs *= plan.reps * len(plan.tracks)
    starts *= plan.reps * len(plan.tracks)
    per_run = plan.warmup + plan.duration + 0.4
    return runs, runs * per_run + starts * START_COST


def shown(command: list[str], port: int) -> str:
    """``command`` as the report prints it: no paths of this machine, ``PORT``."""
    words = []
    for word in command:
        if word == sys.executable:
            word = "python"
        elif word.startswith(f"{ROOT}/"):
            word = word.removeprefix(f"{ROOT}/")
        words.append(word.replace(str(port), "PORT"))
    return shlex.join(words)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts timed runs and prints one line per run with the time left."""

    def __init__(self, total: int, seconds: float) -> None:
        self.total, self.done, self.started, self.planned = total, 0, time.monotonic(), seconds

    def line(self, text: str, *, runs: int = 1) -> None:
        self.done += runs
        elapsed = time.monotonic() - self.started
        left = (
            self.planned - elapsed
            if self.done == 0
            else elapsed / self.done * (self.total - self.done)
        )
        share = 100 * self.done // max(self.total, 1)
        print(f"[{self.done:4}/{self.total} {share:3}%] {text}  (left ~{_clock(left)})", flush=True)


def _precheck(
    server: srv.Server,
    framework: Framework,
    track: str,
    todo: list[sc.Scenario],
    results: Results,
    world: Mapping[int, int],
    selected: set[str],
) -> set[str]:
    """Check ``todo`` on the running server; the names of the scenarios that failed."""
    failed: set[str] = set()
    exact = framework.is_ceiling or framework.label in ("kettle", "floor")
    for scenario in todo:
        answer, problem, notes = sc.check(
            server.port, scenario, world, secure=track == "secure", exact=exact
        )
        if answer is not None and problem is None:
            results.keep_headers(track, framework.name, scenario.name, answer.comparable_headers())
        if problem is not None:
            failed.add(scenario.name)
            if scenario.name in selected:
                results.fail(track, framework.name, scenario.name, f"check {problem}")
            else:
                results.note(f"{framework.name} ({track}) fails the {scenario.name} check "
                             f"(not timed in this run): {problem}")  # fmt: skip
        for note in notes:
            results.note(f"{framework.name} ({track}) {scenario.name}: {note}")
    return failed


def _measure(
    server: srv.Server,
    track: str,
    rep: int,
    scenario: sc.Scenario,
    skip: set[str],
    plan: Plan,
    results: Results,
    progress: Progress,
) -> None:
    """One timed wrk run of ``scenario`` on ``server``, kept in ``results``."""
    framework = server.framework
    what = f"rep {rep + 1}/{plan.reps} {track:6} {framework.name:24} {scenario.name:11}"
    if scenario.name in skip or not server.alive():
        if not server.alive():
            results.fail(track, framework.name, scenario.name, "the server died under load")
        progress.line(f"{what} skipped: {results.failure(track, framework.name, scenario.name)}")
        return
    url = f"http://127.0.0.1:{server.port}{scenario.path}"
    try:
        sample = wrk.run(
            url,
            scenario.connections,
            plan.duration,
            plan.warmup,
            settle=lambda: sc.settle(server.port),
        )
    except (wrk.WrkError, OSError) as exc:
        results.fail(track, framework.name, scenario.name, f"wrk: {exc}")
        progress.line(f"{what} wrk failed: {exc}")
        return
    results.add(track, framework.name, scenario.name, rep, sample)
    progress.line(
        f"{what} {sample.rps:10,.0f} req/s  p99 {sample.p99_ms:7.1f} ms  "
        f"errors {sample.errors} timeouts {sample.timeouts}"
    )


@dataclass
class _RunState:
    """What the loop carries from one family to the next."""

    results: Results
    world: Mapping[int, int]
    log_dir: Path
    progress: Progress
    selected: set[str]
    checked: set[tuple[str, str]]


@dataclass
class _Started:
    """A family member that came up, and the scenarios it may not be timed on."""

    server: srv.Server
    skip: set[str]


def _start_family(
    family: list[Framework],
    group: list[sc.Scenario],
    track: str,
    plan: Plan,
    state: _RunState,
) -> list[_Started]:
    """Start and check every app of ``family`` for ``group``; the ones that came up."""
    started: list[_Started] = []
    pool = pool_size(family)
    for framework in family:
        count = sum(1 for s in group if timed(framework, s))
        known = state.results.failure(track, framework.name, ANY_SCENARIO)
        if known is None:
            try:
                server = srv.start(
                    framework, group[0].name, track, state.log_dir, plan.database_url, pool
                )
            except srv.StartError as exc:
                state.results.fail(track, framework.name, ANY_SCENARIO, f"start: {exc}")
                known = str(exc)
        if known is not None:
            state.progress.line(f"{framework.name} ({track}) failed: {known}", runs=count)
            continue
        state.results.meta.setdefault("commands", {})[framework.name] = shown(
            server.command, server.port
        )
        state.results.meta.setdefault("pool_sizes", {})[framework.name] = pool
        if (framework.name, track) not in state.checked:
            state.checked.add((framework.name, track))
            todo = list(sc.SCENARIOS)
        else:
            todo = group
        skip = _precheck(server, framework, track, todo, state.results, state.world, state.selected)
        started.append(_Started(server, skip))
    return started


def run(
    plan: Plan, results: Results, world: Mapping[int, int], log_dir: Path, raw_path: Path
) -> None:
    """Measure the plan into ``results``, saving the raw JSON after every family."""
    total, seconds = estimate(plan)
    state = _RunState(
        results, world, log_dir, Progress(total, seconds), {s.name for s in plan.scenarios}, set()
    )
    for rep in range(plan.reps):
        for track in plan.tracks:
            for family in families(plan.frameworks):
                for group in groups(family, plan.scenarios):
                    started: list[_Started] = []
                    try:
                        started = _start_family(family, group, track, plan, state)
                        for scenario in group:
                            for member in started:
                                if timed(member.server.framework, scenario):
                                    _measure(
                                        member.server, track, rep, scenario, member.skip,
                                        plan, results, state.progress,
                                    )  # fmt: skip
                    finally:
                        for member in started:
                            member.server.stop()
                    results.save(raw_path)

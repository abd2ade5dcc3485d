"""The measuring loop: repetitions interleaved across frameworks, a progress line per run.

Order: for each repetition, for each framework, for each track, one server start that
serves every selected scenario in turn (a framework whose io-wait setup differs gets a
second start for it). So repetition 1 of every framework comes before repetition 2 of
any (A B C A B C ...). On its first start each app answers every scenario once and is
checked; an app that fails a check is not timed on that scenario, one that will not start
is recorded as failed, and the run goes on.
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


def groups(framework: Framework, chosen: list[sc.Scenario]) -> list[list[sc.Scenario]]:
    """The selected scenarios split by the server setup they need (usually one group)."""
    by_setup: dict[tuple[str, ...], list[sc.Scenario]] = {}
    for scenario in chosen:
        setup = tuple(framework.command(0, scenario.name))
        by_setup.setdefault(setup, []).append(scenario)
    return list(by_setup.values())


def estimate(plan: Plan) -> tuple[int, float]:
    """(number of timed runs, seconds the whole plan should take)."""
    runs = starts = 0
    for framework in plan.frameworks:
        runs += sum(1 for s in plan.scenarios if timed(framework, s))
        starts += len(groups(framework, plan.scenarios))
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
    exact = framework.is_ceiling or framework.label == "kettle"
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
    framework: Framework,
    track: str,
    rep: int,
    group: list[sc.Scenario],
    skip: set[str],
    plan: Plan,
    results: Results,
    progress: Progress,
) -> None:
    for scenario in group:
        if not timed(framework, scenario):
            continue
        what = f"rep {rep + 1}/{plan.reps} {track:6} {framework.name:24} {scenario.name:11}"
        if scenario.name in skip or not server.alive():
            if not server.alive():
                results.fail(track, framework.name, scenario.name, "the server died under load")
            progress.line(
                f"{what} skipped: {results.failure(track, framework.name, scenario.name)}"
            )
            continue
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
            continue
        results.add(track, framework.name, scenario.name, rep, sample)
        progress.line(
            f"{what} {sample.rps:10,.0f} req/s  p99 {sample.p99_ms:7.1f} ms  "
            f"errors {sample.errors} timeouts {sample.timeouts}"
        )


def run(
    plan: Plan, results: Results, world: Mapping[int, int], log_dir: Path, raw_path: Path
) -> None:
    """Measure the plan into ``results``, saving the raw JSON after every server."""
    total, seconds = estimate(plan)
    progress = Progress(total, seconds)
    selected = {s.name for s in plan.scenarios}
    checked: set[tuple[str, str]] = set()
    for rep in range(plan.reps):
        for framework in plan.frameworks:
            for track in plan.tracks:
                known = results.failure(track, framework.name, ANY_SCENARIO)
                for group in groups(framework, plan.scenarios):
                    count = sum(1 for s in group if timed(framework, s))
                    if known is not None:
                        progress.line(f"{framework.name} ({track}) failed: {known}", runs=count)
                        continue
                    setup = group[0].name
                    try:
                        server = srv.start(framework, setup, track, log_dir, plan.database_url)
                    except srv.StartError as exc:
                        results.fail(track, framework.name, ANY_SCENARIO, f"start: {exc}")
                        progress.line(f"{framework.name} ({track}) failed: {exc}", runs=count)
                        known = str(exc)
                        continue
                    try:
                        results.meta.setdefault("commands", {})[framework.name] = shown(
                            server.command, server.port
                        )
                        if (framework.name, track) not in checked:
                            checked.add((framework.name, track))
                            todo = list(sc.SCENARIOS)
                        else:
                            todo = group
                        skip = _precheck(server, framework, track, todo, results, world, selected)
                        _measure(
                            server, framework, track, rep, group, skip, plan, results, progress
                        )
                    finally:
                        server.stop()
                    results.save(raw_path)

"""What a run collects, kept as plain JSON so reports can be rebuilt and runs merged.

Samples are keyed by track, scenario and framework. A failure is kept with its reason:
for a whole server (it would not start, scenario ``*``) or for one scenario (it answered
wrongly, or wrk could not measure it). The raw JSON is written after every measurement,
so an interrupted run keeps what it had.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.suite.wrk import Sample

ANY_SCENARIO = "*"


def _key(track: str, framework: str, scenario: str) -> str:
    return f"{track}|{framework}|{scenario}"


@dataclass(frozen=True)
class Summary:
    """The repetitions of one cell, summed up: median and range of rps, median p99."""

    median: float
    low: float
    high: float
    p99_ms: float
    errors: int
    timeouts: int
    count: int


@dataclass
class Results:
    """Everything one run (or several merged runs) measured and noticed."""

    meta: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The headers each app sent per scenario (first pre-check), for the same-bytes check.
    headers: dict[str, list[list[str]]] = field(default_factory=dict)

    def add(self, track: str, framework: str, scenario: str, rep: int, sample: Sample) -> None:
        row = {"track": track, "framework": framework, "scenario": scenario, "rep": rep}
        self.runs.append(row | sample.as_dict())

    def fail(self, track: str, framework: str, scenario: str, reason: str) -> None:
        self.failures.setdefault(_key(track, framework, scenario), reason)

    def failure(self, track: str, framework: str, scenario: str) -> str | None:
        """Why this cell has no figure: its own failure or its server's."""
        return self.failures.get(_key(track, framework, scenario)) or self.failures.get(
            _key(track, framework, ANY_SCENARIO)
        )

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def keep_headers(
        self, track: str, framework: str, scenario: str, headers: list[tuple[str, str]]
    ) -> None:
        self.headers.setdefault(
            _key(track, framework, scenario), [[name, value] for name, value in headers]
        )

    def sent_headers(self, track: str, framework: str, scenario: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.headers.get(_key(track, framework, scenario), [])]

    def samples(self, track: str, framework: str, scenario: str) -> list[dict[str, Any]]:
        return [
            run
            for run in self.runs
            if run["track"] == track
            and run["framework"] == framework
            and run["scenario"] == scenario
        ]

    def has(self, track: str, framework: str) -> bool:
        """Whether ``framework`` has any figure on ``track``."""
        return any(run["track"] == track and run["framework"] == framework for run in self.runs)

    def summary(self, track: str, framework: str, scenario: str) -> Summary | None:
        runs = self.samples(track, framework, scenario)
        if not runs:
            return None
        rps = [run["rps"] for run in runs]
        return Summary(
            median=statistics.median(rps),
            low=min(rps),
            high=max(rps),
            p99_ms=statistics.median(run["p99_ms"] for run in runs),
            errors=sum(run["errors"] for run in runs),
            timeouts=sum(run["timeouts"] for run in runs),
            count=len(runs),
        )

    def paired(
        self, track: str, name: str, scenario: str, base: str, base_scenario: str
    ) -> float | None:
        """The median over repetitions of ``name``'s figure over ``base``'s in the same one.

        The runner measures the apps of a server family back to back in each repetition,
        so each quotient compares figures taken seconds apart; the machine's drift over a
        whole run (the same cell moved 1.3-3x between repetitions here) stays out of it.
        """
        mine = {run["rep"]: run["rps"] for run in self.samples(track, name, scenario)}
        theirs = {run["rep"]: run["rps"] for run in self.samples(track, base, base_scenario)}
        quotients = [mine[rep] / theirs[rep] for rep in mine if theirs.get(rep, 0) > 0]
        return statistics.median(quotients) if quotients else None

    def tracks(self) -> list[str]:
        seen = {run["track"] for run in self.runs} | {k.split("|")[0] for k in self.failures}
        return [track for track in ("secure", "bare") if track in seen]

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "runs": self.runs,
            "failures": self.failures,
            "notes": self.notes,
            "headers": self.headers,
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False))
        scratch.replace(path)

    @classmethod
    def load(cls, path: Path) -> Results:
        data = json.loads(path.read_text())
        return cls(
            meta=data.get("meta", {}),
            runs=data.get("runs", []),
            failures=data.get("failures", {}),
            notes=data.get("notes", []),
            headers=data.get("headers", {}),
        )

    @classmethod
    def merge(cls, parts: Iterable[Results]) -> Results:
        """One result set from several runs (say, one per track run in separate sessions).

        Ratios stay within one run as long as each part measured its own ceilings.
        """
        merged = cls()
        for part in parts:
            if not merged.meta:
                merged.meta = dict(part.meta)
            else:
                merged.meta.setdefault("merged", []).append(part.meta.get("started", "?"))
            merged.runs += part.runs
            for key, reason in part.failures.items():
                merged.failures.setdefault(key, reason)
            for text in part.notes:
                merged.note(text)
            for key, pairs in part.headers.items():
                merged.headers.setdefault(key, pairs)
        return merged

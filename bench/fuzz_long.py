"""Long fuzz run: kettle's Hypothesis properties (tests/fuzz) with a time budget per target.

Usage: nice -n 10 python bench/fuzz_long.py --minutes 10 [--only ranges,forms] [--output FILE]

Every ``@given`` test in ``tests/fuzz/test_*.py`` is a target. Each runs under Hypothesis's
own engine with no example limit until its share of the time is spent (the properties are
the very functions CI runs, only with a bigger budget); a run that ends early, because it
failed or tried every input there is, is restarted with a fresh seed while time is left.
Prints a table per target: examples run, unique failures (0 expected), server errors (500s)
seen, then each failure's falsifying example. Targets marked ``xfail`` (known bugs, kept
for the fix) are listed but not run unless ``--include-xfail``.

Exit status: 0 when no target failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import io
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUZZ_DIR = ROOT / "tests" / "fuzz"


class _TimeUp(BaseException):
    """Raised inside a target when its time is spent: Hypothesis stops without shrinking."""


@dataclass
class Result:
    """What one target did."""

    name: str
    seconds: float = 0.0
    examples: int = 0
    runs: int = 0
    server_errors: int = 0
    exhausted: bool = False
    known_bug: bool = False
    failures: dict[tuple[str, str], str] = field(default_factory=dict)


def _load_targets() -> list[tuple[str, Callable[..., Any]]]:
    """``(module.test, function)`` for every Hypothesis test under tests/fuzz."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    # The profile must be chosen before the test modules are imported: @given fixes it.
    from hypothesis import settings

    importlib.import_module("tests.fuzz.conftest")
    settings.register_profile(
        "long-timed", settings.get_profile("long"), max_examples=10**9, print_blob=False
    )
    settings.load_profile("long-timed")
    targets = []
    for path in sorted(FUZZ_DIR.glob("test_*.py")):
        module = importlib.import_module(f"tests.fuzz.{path.stem}")
        for name, fn in vars(module).items():
            if name.startswith("test_") and hasattr(fn, "hypothesis"):
                targets.append((f"{path.stem.removeprefix('test_')}.{name}", fn))
    return targets


def _is_xfail(fn: Callable[..., Any]) -> bool:
    return any(mark.name == "xfail" for mark in getattr(fn, "pytestmark", []))


def _failure_key(exc: BaseException) -> tuple[str, str]:
    """Failures are the same when the same exception type is raised at the same line."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/kettle/" in f.filename or "/tests/fuzz/" in f.filename]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    place = f"{Path(where.filename).name}:{where.lineno}" if where else "?"
    return type(exc).__name__, place


def _describe(exc: BaseException) -> str:
    notes = "\n".join(getattr(exc, "__notes__", []))
    return f"{type(exc).__name__}: {str(exc)[:1500]}\n{notes}".strip()


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def run_target(name: str, fn: Callable[..., Any], budget: float) -> Result:
    """Run one target for ``budget`` seconds of wall-clock time."""
    from tests.fuzz.harness import STATS

    result = Result(name)
    handle = fn.hypothesis  # type: ignore[attr-defined]
    inner = handle.inner_test
    deadline = time.monotonic() + budget
    # Once a run has failed, its shrinking is let finish whatever the clock says.
    failing = [False]

    @functools.wraps(inner)
    def counted(*args: Any, **kwargs: Any) -> Any:
        if not failing[0] and time.monotonic() > deadline:
            raise _TimeUp
        result.examples += 1
        try:
            return inner(*args, **kwargs)
        except Exception:
            failing[0] = True
            raise

    handle.inner_test = counted
    STATS.reset()
    started = time.monotonic()
    try:
        while time.monotonic() < deadline:
            result.runs += 1
            failing[0] = False
            # Hypothesis prints reproduction hints on every stop; the failures are kept below.
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                try:
                    fn()
                except _TimeUp:
                    break
                except Exception as exc:
                    for leaf in _leaves(exc):
                        result.failures.setdefault(_failure_key(leaf), _describe(leaf))
                    continue
            # With no example limit, a run that ends by itself has tried every input there is.
            result.exhausted = True
            break
    finally:
        handle.inner_test = inner
        result.seconds = time.monotonic() - started
        result.server_errors = STATS.server_errors
    return result


def _table(results: list[Result]) -> str:
    lines = [
        "| target | seconds | examples | unique failures | 500s seen |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.known_bug:
            lines.append(f"| {r.name} (xfail: known bug, not run) | - | - | - | - |")
            continue
        note = " (space exhausted)" if r.exhausted else ""
        lines.append(
            f"| {r.name}{note} | {r.seconds:.0f} | {r.examples:,} | {len(r.failures)} "
            f"| {r.server_errors} |"
        )
    ran = [r for r in results if not r.known_bug]
    lines.append(
        f"| **total** ({len(ran)} targets) | {sum(r.seconds for r in ran):.0f} "
        f"| {sum(r.examples for r in ran):,} | {sum(len(r.failures) for r in ran)} "
        f"| {sum(r.server_errors for r in ran)} |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="total time budget")
    parser.add_argument("--only", default="", help="comma-separated substrings of target names")
    parser.add_argument("--include-xfail", action="store_true", help="run known-bug targets too")
    parser.add_argument("--output", help="also write the table and failures to this file")
    args = parser.parse_args(argv)

    targets = _load_targets()
    wanted = [w for w in args.only.split(",") if w]
    targets = [(n, f) for n, f in targets if not wanted or any(w in n for w in wanted)]
    runnable = [(n, f) for n, f in targets if args.include_xfail or not _is_xfail(f)]
    finish = time.monotonic() + args.minutes * 60
    print(f"{len(runnable)} targets, {args.minutes * 60 / max(1, len(runnable)):.1f} s each")

    from tests.fuzz.harness import close_all

    results: list[Result] = []
    left = len(runnable)
    try:
        for name, fn in targets:
            if (name, fn) not in runnable:
                results.append(Result(name, known_bug=True))
                continue
            # An even share of the time left, so what a small, exhausted space did not use
            # goes to the targets after it.
            result = run_target(name, fn, (finish - time.monotonic()) / left)
            left -= 1
            results.append(result)
            print(
                f"  {name}: {result.examples:,} examples, {len(result.failures)} failures, "
                f"{result.server_errors} server errors",
                flush=True,
            )
    finally:
        close_all()

    report = [_table(results)]
    for r in results:
        for (kind, place), text in r.failures.items():
            report.append(f"\n### {r.name}: {kind} at {place}\n\n```\n{text}\n```")
    output = "\n".join(report)
    print("\n" + output)
    if args.output:
        Path(args.output).write_text(output + "\n", encoding="utf-8")
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    os.environ.setdefault("KETTLE_FUZZ_PROFILE", "long")
    sys.exit(main())

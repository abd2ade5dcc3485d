"""The eight scenarios of BENCHMARKS.md and the correctness check each app passes first.

Before any app is timed, every scenario is requested once and its answer checked: status
200, the content type, the body's shape (a db row must be the row the table holds, the
fortunes page must hold 13 escaped rows in order) and, on the secure track, the security
headers. An app that answers a scenario wrongly is not timed on it.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench.peers import _common as common

#: Header names the server adds on its own, left out of the same-bytes comparison.
SERVER_HEADERS = frozenset(("date", "server", "connection", "keep-alive"))
HELMET_NAMES = frozenset(name for name, _ in common.HELMET)
API_NAMES = frozenset(name for name, _ in common.API)


@dataclass(frozen=True)
class Scenario:
    """One scenario: the path requested, the load, and what a correct answer looks like.

    ``same_as`` names the scenario whose bytes a raw ceiling sends for this one: the
    ceilings have no router or middleware, so they are not timed on middleware and
    routes-1000, and the ratio there is taken against their json and params figures.
    """

    name: str
    path: str
    kind: str  # "text", "json" or "html": the response kind (its security header set)
    connections: int = 64
    same_as: str | None = None


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("plaintext", "/plaintext", "text"),
    Scenario("json", "/json", "json"),
    Scenario("params", "/users/42", "json"),
    Scenario("middleware", "/mw/json", "json", same_as="json"),
    Scenario("routes-1000", f"/route{common.ROUTE_COUNT - 1}/42", "json", same_as="params"),
    Scenario("fortunes", "/fortunes", "html"),
    Scenario("db", "/db", "json"),
    Scenario("io-wait", "/io", "text", connections=1000),
)
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
QUICK = ("plaintext", "json", "params")


@dataclass(frozen=True)
class Answer:
    """What one request got back."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str:
        return next((value for key, value in self.headers if key == name), "")

    def comparable_headers(self) -> list[tuple[str, str]]:
        """The app's own headers, without those the server adds."""
        return [(k, v) for k, v in self.headers if k not in SERVER_HEADERS]


def fetch(port: int, path: str, timeout: float = 5.0) -> Answer:
    """GET ``path`` from the server on ``port`` with a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        headers = [(k.lower(), v) for k, v in response.getheaders()]
        return Answer(response.status, headers, body)
    finally:
        conn.close()


def _json(answer: Answer) -> object:
    if not answer.header("content-type").startswith("application/json"):
        raise AssertionError(f"content-type {answer.header('content-type')!r}")
    return json.loads(answer.body)


def _check_text(answer: Answer, world: Mapping[int, int]) -> None:
    if not answer.header("content-type").startswith("text/plain"):
        raise AssertionError(f"content-type {answer.header('content-type')!r}")
    if answer.body != common.MESSAGE.encode():
        raise AssertionError(f"body {answer.body[:60]!r}")


def _check_message(answer: Answer, world: Mapping[int, int]) -> None:
    if _json(answer) != {"message": common.MESSAGE}:
        raise AssertionError(f"body {answer.body[:60]!r}")


def _check_id(answer: Answer, world: Mapping[int, int]) -> None:
    if _json(answer) != {"id": 42}:
        raise AssertionError(f"body {answer.body[:60]!r}")


def _check_db(answer: Answer, world: Mapping[int, int]) -> None:
    row = _json(answer)
    if not isinstance(row, dict) or set(row) != {"id", "randomNumber"}:
        raise AssertionError(f"body {answer.body[:80]!r}")
    if world and world.get(row["id"]) != row["randomNumber"]:
        raise AssertionError(f"row {row} is not the one in the world table")


#: Markers of the fortunes page in sorted order: '<' sorts before letters, the Japanese
#: row sorts last, the added fortune falls between.
_FORTUNE_ORDER = (
    "&lt;script&gt;",
    "A bad random number generator",
    common.ADDED_FORTUNE,
    "After enough decimal places",
    "fortune: No such file or directory",
    "フレームワークのベンチマーク",
)


def _check_fortunes(answer: Answer, world: Mapping[int, int]) -> None:
    if not answer.header("content-type").startswith("text/html"):
        raise AssertionError(f"content-type {answer.header('content-type')!r}")
    page = answer.body.decode("utf-8")
    if "<script>" in page:
        raise AssertionError("the <script> fortune is not escaped")
    rows = page.count("<tr>") - 1
    if rows != 13:
        raise AssertionError(f"{rows} fortune rows, not 13")
    places = [page.find(marker) for marker in _FORTUNE_ORDER]
    if -1 in places or places != sorted(places):
        raise AssertionError("the fortunes are missing or not sorted by message")


CHECKS: dict[str, Callable[[Answer, Mapping[int, int]], None]] = {
    "plaintext": _check_text,
    "json": _check_message,
    "params": _check_id,
    "middleware": _check_message,
    "routes-1000": _check_id,
    "fortunes": _check_fortunes,
    "db": _check_db,
    "io-wait": _check_text,
}


def header_notes(answer: Answer, scenario: Scenario, *, secure: bool, exact: bool) -> list[str]:
    """What is off in the security headers of ``answer`` (empty when all is well).

    ``exact``: the app must send kettle's set for the response kind (kettle and the
    ceilings); otherwise the secure track asks for at least Helmet's set (the peers).
    """
    names = {name for name, _ in answer.headers}
    if not secure:
        extra = names & (HELMET_NAMES | API_NAMES)
        return [f"bare track, but sends {sorted(extra)}"] if extra else []
    if exact:
        wanted = HELMET_NAMES if scenario.kind == "html" else API_NAMES
        if scenario.kind != "html":
            leaked = names & (HELMET_NAMES - API_NAMES)
            if leaked:
                return [f"sends document headers {sorted(leaked)} on a {scenario.kind} answer"]
    else:
        wanted = HELMET_NAMES
    missing = wanted - names
    return [f"missing {sorted(missing)}"] if missing else []


def check(
    port: int, scenario: Scenario, world: Mapping[int, int], *, secure: bool, exact: bool
) -> tuple[Answer | None, str | None, list[str]]:
    """Request ``scenario`` once: (the answer, why it is wrong or ``None``, header notes)."""
    try:
        answer = fetch(port, scenario.path)
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{scenario.path}: {exc!r}", []
    if answer.status != 200:
        return answer, f"{scenario.path}: status {answer.status} {answer.body[:120]!r}", []
    try:
        CHECKS[scenario.name](answer, world)
    except (AssertionError, ValueError, UnicodeDecodeError) as exc:
        return answer, f"{scenario.path}: {exc}", []
    return answer, None, header_notes(answer, scenario, secure=secure, exact=exact)


def wait_until_up(port: int, timeout: float, alive: Callable[[], bool]) -> str | None:
    """Poll ``/plaintext`` until it answers 200; why not, or ``None`` once it does.

    A server that is up but keeps answering something else gets a few seconds, not the
    whole timeout: it is not going to get better.
    """
    deadline = time.monotonic() + timeout
    last = "no answer"
    answering_since: float | None = None
    while time.monotonic() < deadline:
        if not alive():
            return "the server exited while starting"
        try:
            answer = fetch(port, "/plaintext", timeout=1.0)
        except (OSError, http.client.HTTPException) as exc:
            last = repr(exc)
        else:
            if answer.status == 200:
                return None
            last = f"/plaintext answered {answer.status} {answer.body[:80]!r}"
            answering_since = answering_since or time.monotonic()
            if time.monotonic() - answering_since > 3.0:
                return last
        time.sleep(0.1)
    return f"not up after {timeout:.0f} s ({last})"


def settle(port: int, limit: float = 20.0) -> float:
    """Wait until ``/plaintext`` answers 200 again (at most ``limit`` s); the wait."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            if fetch(port, "/plaintext", timeout=1.0).status == 200:
                break
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
    return time.monotonic() - started

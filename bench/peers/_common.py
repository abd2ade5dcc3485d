"""What every peer app shares: the scenario data, the header sets, the track, the database.

Each peer module implements the eight scenarios of BENCHMARKS.md in its framework's own
idiom; only the data lives here, so every app answers with the same words and the same
header values. The suite starts each server with ``BENCH_TRACK`` set to ``bare`` or
``secure`` and ``BENCH_DATABASE_URL`` pointing at the PostgreSQL it filled.

Header sets (secure track):

* :data:`HELMET` — Helmet 8's document set as kettle sends it over http (no HSTS, which
  kettle keeps for https): what the peers add to every response, "the Helmet header set
  added the idiomatic way".
* :data:`API` — the OWASP REST set kettle sends with every response that is not HTML.

The raw ceilings send exactly kettle's bytes: :data:`API` on text and JSON, :data:`HELMET`
on the fortunes page, nothing on the bare track.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Final

#: ``bare`` (no security headers anywhere) or ``secure`` (production defaults).
TRACK: Final = os.environ.get("BENCH_TRACK", "secure")
SECURE: Final = TRACK == "secure"

MESSAGE: Final = "Hello, World!"
#: How many dynamic routes the routes-1000 scenario registers; the last one is requested.
ROUTE_COUNT: Final = 1000
#: How many no-op middlewares stand in front of the middleware scenario's json handler.
MIDDLEWARE_DEPTH: Final = 10
#: Seconds the io-wait handler waits, standing in for a slow upstream call.
IO_WAIT: Final = 0.05

DATABASE_URL: Final = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
#: Connections per server process, the same for every peer (TechEmpower leaves it free).
POOL_SIZE: Final = int(os.environ.get("BENCH_POOL_SIZE", "16"))
WORLD_ROWS: Final = 10_000
WORLD_QUERY: Final = "SELECT id, randomnumber FROM world WHERE id = $1"
FORTUNE_QUERY: Final = "SELECT id, message FROM fortune"
ADDED_FORTUNE: Final = "Additional fortune added at request time."

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
FORTUNES_TEMPLATE: Final = "fortunes.html"

HELMET: Final[tuple[tuple[str, str], ...]] = (
    (
        "content-security-policy",
        "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; "
        "form-action 'self'; frame-ancestors 'self'; img-src 'self' data:; "
        "object-src 'none'; script-src 'self'; script-src-attr 'none'; "
        "style-src 'self' https: 'unsafe-inline'; upgrade-insecure-requests",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
)
API: Final[tuple[tuple[str, str], ...]] = (
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("x-frame-options", "DENY"),
)


def raw(pairs: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Header pairs as ASGI wants them: lower-case latin-1 bytes."""
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


#: What a peer adds to every response on this track (nothing on the bare track).
PEER_HEADERS: Final = HELMET if SECURE else ()
#: What kettle (and so each raw ceiling) adds to HTML responses and to the others.
KETTLE_HTML: Final = HELMET if SECURE else ()
KETTLE_API: Final = API if SECURE else ()


def random_id() -> int:
    """A World row id, 1 to 10,000, as TechEmpower asks (a fresh one per request)."""
    return random.randint(1, WORLD_ROWS)


def sort_fortunes(rows: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """The fetched rows plus the one added at request time, sorted by message."""
    fortunes = [(int(row[0]), str(row[1])) for row in rows]
    fortunes.append((0, ADDED_FORTUNE))
    fortunes.sort(key=lambda fortune: fortune[1])
    return fortunes

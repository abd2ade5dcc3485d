# mypy: disable-error-code="import-not-found", allow-untyped-decorators, allow-subclassing-any
# (The peers live in bench/.venv-peers; kettle's own mypy runs without them installed.)
"""PostgreSQL for the WSGI apps (Flask and the raw WSGI ceiling): psycopg 3 and its pool.

WSGI handlers are synchronous, so asyncpg does not fit them; psycopg is what a Flask app
would use. The pool opens on the first request in each worker process (gunicorn and
granian import the app before they fork or spawn threads), and every request takes a
connection for one fresh query, as TechEmpower asks.
"""

from __future__ import annotations

import threading
from typing import Any

from bench.peers import _common as c

WORLD_QUERY = "SELECT id, randomnumber FROM world WHERE id = %s"
_lock = threading.Lock()
_pool: Any = None


def _get_pool() -> Any:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                from psycopg_pool import ConnectionPool

                _pool = ConnectionPool(c.DATABASE_URL, min_size=1, max_size=c.POOL_SIZE, open=True)
    return _pool


def world() -> dict[str, int]:
    """One random World row as TechEmpower's JSON object."""
    with _get_pool().connection() as conn:
        row = conn.execute(WORLD_QUERY, (c.random_id(),), prepare=True).fetchone()
    return {"id": row[0], "randomNumber": row[1]}


def fortunes() -> list[tuple[int, str]]:
    """Every fortune plus the one added at request time, sorted by message."""
    with _get_pool().connection() as conn:
        rows = conn.execute(c.FORTUNE_QUERY, prepare=True).fetchall()
    return c.sort_fortunes(rows)

"""The TechEmpower tables the db and fortunes scenarios read, created and filled here.

``world``: 10,000 rows of ``(id, randomnumber)``, numbers 1 to 10,000. ``fortune``: the
twelve TechEmpower rows; each app adds the thirteenth at request time, sorts and escapes.
Both are dropped and made afresh at the start of every run, so a run never depends on
what an earlier one left. The apps must query per request; nothing here is cached.
"""

from __future__ import annotations

import asyncio
import random

from bench.peers import _common as common

FORTUNES: tuple[tuple[int, str], ...] = (
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. — Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "フレームワークのベンチマーク"),
)


async def _fill(url: str, world: dict[int, int]) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("DROP TABLE IF EXISTS world")
            await conn.execute("DROP TABLE IF EXISTS fortune")
            await conn.execute(
                "CREATE TABLE world (id integer PRIMARY KEY, "
                "randomnumber integer NOT NULL DEFAULT 0)"
            )
            await conn.execute(
                "CREATE TABLE fortune (id integer PRIMARY KEY, message varchar(2048) NOT NULL)"
            )
            await conn.copy_records_to_table(
                "world", records=sorted(world.items()), columns=["id", "randomnumber"]
            )
            await conn.copy_records_to_table(
                "fortune", records=list(FORTUNES), columns=["id", "message"]
            )
        await conn.execute("ANALYZE world")
        await conn.execute("ANALYZE fortune")
    finally:
        await conn.close()


def prepare(url: str, seed: int = 2026) -> dict[int, int]:
    """Create and fill both tables; the world rows, for checking the apps' answers."""
    rng = random.Random(seed)
    world = {n: rng.randint(1, common.WORLD_ROWS) for n in range(1, common.WORLD_ROWS + 1)}
    asyncio.run(_fill(url, world))
    return world

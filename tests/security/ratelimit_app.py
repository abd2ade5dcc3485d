"""The app tests/security/test_ratelimit_servers.py serves from two uvicorn processes.

Both processes count in the local Redis under the key prefix the test passes in
``RATELIMIT_TEST_PREFIX``, so they share one limit per route, and the test can clean up.
"""

from __future__ import annotations

import os
from typing import Any

from kettle import Kettle, Request
from kettle.security.ratelimit import RateLimit, RedisStore

store = RedisStore(prefix=os.environ["RATELIMIT_TEST_PREFIX"])
app = Kettle(__name__, config={"SECRET_KEY": "ratelimit-servers-" + "k" * 24})
app.on_shutdown(store.close)


@app.get("/plaintext")
async def plaintext(req: Request) -> str:
    return "ready"


@app.get(
    "/fixed", middleware=[RateLimit("10/minute", name="fixed", algorithm="fixed", store=store)]
)
async def fixed(req: Request) -> dict[str, Any]:
    return {"pid": os.getpid()}


@app.get("/sliding", middleware=[RateLimit("10/minute", name="sliding", store=store)])
async def sliding(req: Request) -> dict[str, Any]:
    return {"pid": os.getpid()}

"""The app tests/servers/test_redis_sessions.py serves from two uvicorn processes at once.

Both processes share sessions through the local Redis only. The test gives each process
the same key prefix (``KETTLE_SESSION_REDIS_PREFIX``), so that it can clean up after itself.
"""

from __future__ import annotations

import os
from typing import Any

from kettle import Kettle, Request
from kettle.sessions import install_sessions

app = Kettle(
    __name__,
    config={"SECRET_KEY": "redis-sessions-" + "k" * 24, "SESSION_BACKEND": "redis"},
)


@app.get("/plaintext")
async def plaintext(req: Request) -> str:
    return "ready"


@app.get("/set")
async def set_value(req: Request) -> dict[str, Any]:
    req.session["value"] = req.query.get("value")
    return {"pid": os.getpid()}


@app.get("/get")
def get_value(req: Request) -> dict[str, Any]:  # a plain def: the session opens in a thread
    return {"pid": os.getpid(), "value": req.session.get("value")}


@app.get("/login")
async def login(req: Request) -> dict[str, Any]:
    req.session.regenerate()
    req.session["user"] = req.query.get("user")
    return {"pid": os.getpid()}


@app.get("/logout")
async def logout(req: Request) -> dict[str, Any]:
    req.session.clear()
    return {"pid": os.getpid()}


# Until the app installs sessions when it is finalized, and harmless after.
install_sessions(app)

"""Apps for bench/security_cost.py: the same JSON answer with and without kettle's security.

* ``secure`` — kettle's defaults (security headers on, CSRF on).
* ``bare`` — ``SECURITY_HEADERS`` and ``CSRF_PROTECTION`` off: fewer bytes on the wire.
* ``by_hand`` — bare, but the handler sets the same header bytes itself: what the
  security layer's own cost is measured against (SECURITY.md).
"""

from __future__ import annotations

import os
from typing import Any

from kettle import JSONResponse, Kettle, Request
from kettle.security import DEFAULT_API_HEADERS

_SECRET = os.environ.get("KETTLE_SECRET_KEY", "bench-" + "x" * 32)
_MESSAGE = "Hello, World!"


def _make(**config: Any) -> Kettle:
    app = Kettle(__name__, config={"SECRET_KEY": _SECRET, **config})

    @app.get("/plaintext")
    async def plaintext(req: Request) -> str:
        return _MESSAGE

    @app.get("/json")
    async def json(req: Request) -> dict[str, str]:
        return {"message": _MESSAGE}

    @app.get("/json-response")
    async def json_response(req: Request) -> JSONResponse:
        return JSONResponse({"message": _MESSAGE})

    return app


secure = _make()
bare = _make(SECURITY_HEADERS=False, CSRF_PROTECTION=False)
by_hand = Kettle(
    __name__,
    config={"SECRET_KEY": _SECRET, "SECURITY_HEADERS": False, "CSRF_PROTECTION": False},
)


@by_hand.get("/plaintext")
async def _plaintext(req: Request) -> str:
    return _MESSAGE


# The cheapest hand-written form: the same header pairs, encoded once, appended per request.
_API_BLOCK = [
    (name.lower().encode(), value.encode()) for name, value in DEFAULT_API_HEADERS.items()
]


@by_hand.get("/json-response")
async def _json_by_hand(req: Request) -> JSONResponse:
    response = JSONResponse({"message": _MESSAGE})
    response.raw_headers.extend(_API_BLOCK)
    return response

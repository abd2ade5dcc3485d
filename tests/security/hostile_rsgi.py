"""``hostile_app`` as granian's RSGI interface sees it, noting the probe of every request.

The RSGI counterpart of ``hostile_app:asgi``: the same kettle app object, wrapped so that a
request that reaches the app at all is recorded, whatever kettle answers. Served as
``hostile_rsgi:rsgi`` with this directory on ``PYTHONPATH``, next to ``hostile_app``.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

# The module the server process knows as "hostile_app" (the records live there).
_hostile = importlib.import_module("hostile_app")
_PROBE: str = _hostile.PROBE_HEADER.lower()


class _Probed:
    """Forwards granian's RSGI calls to the kettle app, noting probes on the way."""

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        _hostile.app.__rsgi_init__(loop)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        _hostile.app.__rsgi_del__(loop)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto == "http":
            probe = scope.headers.get(_PROBE)
            if probe:
                _hostile.seen_by_app.add(probe)
        await _hostile.app.__rsgi__(scope, protocol)


rsgi = _Probed()

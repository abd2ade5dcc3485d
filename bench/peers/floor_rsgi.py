"""The floor under kettle's RSGI figures: only what kettle's API itself makes every request do.

The RSGI twin of ``floor_asgi`` (its docstring says what is in and what is left out):
kettle's ``Request`` over the RSGI scope, the handler's coroutine, the ``TextResponse`` it
returns or msgspec's bytes for its dict, the Host and head-size checks in one pass over
granian's ``str`` pairs, and the security headers as one prebuilt block of ``str`` pairs,
answered with one ``proto.response_bytes`` call: kettle's exact bytes.
"""

from __future__ import annotations

from typing import Any

from bench.peers import _common as c
from bench.peers.floor_asgi import _HANDLERS, _MAX_HEAD, _MAX_HEADERS, _owner
from kettle.json import encode_json
from kettle.servers.rsgi import RSGIRequest

_API = list(c.KETTLE_API)
_JSON_TYPE = ("content-type", "application/json")
_known_hosts: set[bytes] = set()
_types: dict[tuple[bytes, bytes], tuple[str, str]] = {}


class FloorRSGI:
    """The RSGI app object (no database, so nothing to open in ``__rsgi_init__``)."""

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        """Serve one request with the floor's work."""
        if scope.proto != "http":
            proto.close(403)
            return
        req = RSGIRequest(None, proto, _owner)  # type: ignore[arg-type]
        req._rsgi = scope
        items = req._items = scope.headers.items()
        # The adapter's own one-pass check (rsgi.py), written out the same way on purpose:
        # the floor must pay for it exactly as kettle does.
        host = None
        hosts = size = 0
        for name, value in items:
            size += len(name) + len(value)
            if name == "host":
                host = value
                hosts += 1
        if len(items) > _MAX_HEADERS or size > _MAX_HEAD or hosts > 1:
            proto.response_empty(431, [])
            return
        if host is not None:
            encoded = host.encode()
            if encoded not in _known_hosts:
                _known_hosts.add(encoded)
        handler = _HANDLERS.get(scope.path)
        if handler is None:
            proto.response_empty(404, [])
            return
        result = await handler(req)
        if result.__class__ is dict:
            body = encode_json(result)
            headers = [_JSON_TYPE, ("content-length", str(len(body)))]
        else:
            # kettle converts each content-type pair to str once, and so does the floor.
            body, first = result.body, result.raw_headers[0]
            kind = _types.get(first)
            if kind is None:
                kind = _types[first] = (first[0].decode(), first[1].decode())
            headers = [kind, ("content-length", str(len(body)))]
        headers += _API
        proto.response_bytes(200, headers, body)


app = FloorRSGI()

"""The WSGI ceiling (gunicorn and granian's WSGI): kettle's response bytes, by hand.

Flask's ratio is measured against this on the same WSGI server. The io-wait handler
blocks its thread for the wait, as any WSGI handler must.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import jinja2
import msgspec

from bench.peers import _common as c
from bench.peers import _sync_db

StartResponse = Callable[..., Any]
_encode = msgspec.json.encode
_template = jinja2.Environment(
    loader=jinja2.FileSystemLoader(c.TEMPLATES), autoescape=True
).get_template(c.FORTUNES_TEMPLATE)
_PLAIN = c.MESSAGE.encode()
_TEXT = ("Content-Type", "text/plain; charset=utf-8")
_JSON = ("Content-Type", "application/json")
_HTML = ("Content-Type", "text/html; charset=utf-8")


def _answer(
    start_response: StartResponse, kind: tuple[str, str], body: bytes, extra: Any
) -> list[bytes]:
    start_response("200 OK", [kind, ("Content-Length", str(len(body))), *extra])
    return [body]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answer the scenario paths with kettle's bytes; 404 for anything else."""
    path: str = environ["PATH_INFO"]
    if path == "/plaintext":
        return _answer(start_response, _TEXT, _PLAIN, c.KETTLE_API)
    if path in ("/json", "/mw/json"):
        return _answer(start_response, _JSON, _encode({"message": c.MESSAGE}), c.KETTLE_API)
    if path.startswith(("/users/", "/route")):
        body = _encode({"id": int(path.rpartition("/")[2])})
        return _answer(start_response, _JSON, body, c.KETTLE_API)
    if path == "/db":
        return _answer(start_response, _JSON, _encode(_sync_db.world()), c.KETTLE_API)
    if path == "/fortunes":
        page = _template.render(fortunes=_sync_db.fortunes()).encode()
        return _answer(start_response, _HTML, page, c.KETTLE_HTML)
    if path == "/io":
        time.sleep(c.IO_WAIT)
        return _answer(start_response, _TEXT, _PLAIN, c.KETTLE_API)
    start_response("404 Not Found", [("Content-Length", "0")])
    return [b""]

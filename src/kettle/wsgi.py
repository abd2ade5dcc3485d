"""Mounting foreign apps: ASGI apps as they are, WSGI apps (Flask, Django) through a2wsgi."""

from __future__ import annotations

import inspect
from typing import Any

from .exceptions import SetupError
from .handlers import is_async_callable

__all__ = ["as_asgi_app"]


def _looks_wsgi(app: Any) -> bool:
    if hasattr(app, "wsgi_app"):  # Flask and friends
        return True
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else type(app).__call__
    try:
        params = [p for p in inspect.signature(call).parameters.values() if p.default is p.empty]
    except (TypeError, ValueError):
        return False
    return len(params) == 2


def as_asgi_app(app: Any, wsgi: bool | None = None) -> Any:
    """``app`` as an ASGI 3 callable: ASGI apps pass through, WSGI apps get wrapped.

    ``wsgi`` forces the choice when detection (async ``__call__`` vs two positional
    parameters) would guess wrong.
    """
    if not callable(app):
        raise SetupError(f"cannot mount {app!r}: it is not an app")
    if wsgi is None:
        wsgi = not is_async_callable(app) and _looks_wsgi(app)
    if not wsgi:
        if not is_async_callable(app):
            raise SetupError(f"cannot mount {app!r}: it is neither an ASGI 3 app nor a WSGI app")
        return app
    try:
        from a2wsgi import WSGIMiddleware
    except ImportError:
        raise SetupError("mounting a WSGI app needs a2wsgi: pip install 'kettle[wsgi]'") from None
    return WSGIMiddleware(app)

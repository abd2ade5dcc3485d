"""Start uvicorn or granian for ``kettle run`` with kettle's protective server settings.

granian serves a kettle app over RSGI unless told otherwise (``--interface asgi``): the
same app object answers both, and RSGI is the faster of the two on granian. Apps that
are not kettle apps (no ``__rsgi__``) are served over ASGI.

Which protections come from the server rather than from kettle (see docs/security.md):
the request-head size and header-read timeout, keep-alive, the concurrency limit and the
graceful shutdown. kettle passes conservative values and turns off the server's own
forwarded-header handling, since the app's ``TRUSTED_PROXIES`` decides whom to believe.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import click

from ._loading import Target

__all__ = ["granian_interface", "installed", "missing", "serve_granian", "serve_uvicorn"]


def missing(server: str) -> click.ClickException:
    return click.ClickException(f"{server} is not installed: pip install 'kettle[{server}]'")


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


#: Largest request head (request line and headers) uvicorn's h11 parser buffers.
_MAX_HEAD = 64 * 1024


def serve_uvicorn(app: Any, target: Target, options: dict[str, Any]) -> None:
    try:
        import uvicorn
    except ImportError:
        raise missing("uvicorn") from None
    # Reload and multiple workers import the app afresh in child processes, so they need
    # the import string; a single process can serve the app object already loaded.
    in_process = not options["reload"] and options["workers"] == 1
    # Read by kettle._uvicorn in this process and in every worker it spawns.
    os.environ["KETTLE_HEADER_TIMEOUT"] = str(options["header_timeout"])
    uvicorn.run(
        app if in_process else target.import_string,
        factory=target.factory and not in_process,
        host=options["host"],
        port=options["port"],
        reload=options["reload"],
        workers=options["workers"],
        lifespan="on",
        # uvicorn times no request heads; kettle's protocol does (slowloris, _uvicorn.py).
        http="kettle._uvicorn:HeadTimeoutProtocol" if installed("httptools") else "auto",
        loop="uvloop" if installed("uvloop") else "auto",
        # kettle decides whom to believe (TRUSTED_PROXIES); uvicorn's own default would
        # trust X-Forwarded-* from 127.0.0.1 behind kettle's back.
        proxy_headers=False,
        server_header=False,
        limit_concurrency=options["limit_concurrency"] or None,
        timeout_keep_alive=options["keep_alive"],
        timeout_graceful_shutdown=options["graceful_timeout"],
        h11_max_incomplete_event_size=_MAX_HEAD,
    )


def granian_interface(app: Any, requested: str) -> str:
    """``"rsgi"`` or ``"asgi"``: what granian should speak to ``app``.

    ``"auto"`` picks RSGI for apps that have it (every kettle app), ASGI for the rest.
    """
    speaks_rsgi = callable(getattr(app, "__rsgi__", None))
    if requested == "auto":
        return "rsgi" if speaks_rsgi else "asgi"
    if requested == "rsgi" and not speaks_rsgi:
        raise click.UsageError("--interface rsgi needs a kettle app (the app has no __rsgi__)")
    return requested


def serve_granian(target: Target, options: dict[str, Any], interface: str = "asgi") -> None:
    try:
        from granian import Granian
        from granian.constants import Interfaces
        from granian.http import HTTP1Settings
    except ImportError:
        raise missing("granian") from None
    # granian always serves from worker processes, which import the app themselves.
    Granian(
        target.import_string,
        address=options["host"],
        port=options["port"],
        interface=Interfaces.RSGI if interface == "rsgi" else Interfaces.ASGI,
        workers=options["workers"],
        reload=options["reload"],
        factory=target.factory,
        working_dir=Path.cwd(),
        backpressure=options["limit_concurrency"] or None,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(options["header_timeout"] * 1000),
            keep_alive=options["keep_alive"] > 0,
        ),
        workers_kill_timeout=options["graceful_timeout"],
    ).serve()

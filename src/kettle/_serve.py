"""Start uvicorn or granian for ``kettle run`` with kettle's protective server settings.

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

__all__ = ["installed", "missing", "serve_granian", "serve_uvicorn"]


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


def serve_granian(target: Target, options: dict[str, Any]) -> None:
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
        interface=Interfaces.ASGI,
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

"""The contestants: each framework on each server, and the raw ceiling it is measured by.

A :class:`Framework` knows the command that serves it on a port (pinning is the server
module's business) and which raw ceiling runs on the same server. Every server gets the
same flags for every app it serves, so two apps on uvicorn differ only in the app:
uvloop and httptools, no access log, no ``Server`` header and no proxy-header handling
(what ``kettle run`` passes); granian with one worker, HTTP/1 and no websockets.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
NODE_DIR = BENCH / "node"
#: Pending-connection queue for every server, above the io-wait scenario's 1,000 clients.
BACKLOG = "2048"


def _uvicorn(target: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", target,
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--lifespan", "on",
        "--no-access-log", "--log-level", "warning",
        "--no-server-header", "--no-proxy-headers", "--backlog", BACKLOG,
    ]  # fmt: skip


def _granian(interface: str, target: str, port: int) -> list[str]:
    loop = [] if interface == "wsgi" else ["--loop", "uvloop"]
    return [
        sys.executable, "-m", "granian", "--interface", interface,
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--http", "1", "--no-ws", "--log-level", "warning", "--backlog", BACKLOG,
        *loop, target,
    ]  # fmt: skip


def _gunicorn(target: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", BACKLOG,
        target,
    ]  # fmt: skip


@dataclass(frozen=True)
class Framework:
    """One app on one server.

    ``ceiling`` names the raw app on the same server this one's ratio is taken against
    (``None`` for a ceiling). ``io_args`` are extra server arguments for the io-wait
    scenario alone (gunicorn's sync worker gets threads there, as BENCHMARKS.md did).
    """

    name: str
    label: str
    server: str
    target: str
    ceiling: str | None
    default: bool = True
    io_args: tuple[str, ...] = field(default=())

    @property
    def title(self) -> str:
        """``Flask (gunicorn)``: the framework's own spelling and its server."""
        return f"{DISPLAY.get(self.label, self.label)} ({self.server})"

    @property
    def is_ceiling(self) -> bool:
        return self.ceiling is None

    @property
    def is_node(self) -> bool:
        return self.server == "node"

    @property
    def family(self) -> str:
        """The servers measured together: each app beside its ceiling and its rivals.

        node sits with granian because kettle's RSGI figures are compared with Fastify's.
        """
        return FAMILIES[self.server]

    def command(self, port: int, scenario: str) -> list[str]:
        """The command serving this app on ``port`` (for ``scenario``'s server setup)."""
        if self.server == "uvicorn":
            cmd = _uvicorn(self.target, port)
        elif self.server.startswith("granian-"):
            cmd = _granian(self.server.removeprefix("granian-"), self.target, port)
        elif self.server == "gunicorn":
            cmd = _gunicorn(self.target, port)
        elif self.server == "node":
            cmd = ["node", str(NODE_DIR / self.target)]
        else:  # pragma: no cover - the registry below names only the servers above
            raise ValueError(f"unknown server {self.server!r}")
        if scenario == "io-wait":
            cmd += self.io_args
        return cmd


#: Server -> family, in the order the runner takes the families.
FAMILIES = {
    "uvicorn": "uvicorn",
    "granian-asgi": "granian",
    "granian-rsgi": "granian",
    "node": "granian",
    "gunicorn": "wsgi",
    "granian-wsgi": "wsgi",
}


def _fw(
    name: str, target: str, ceiling: str | None, *, default: bool = True, io: tuple[str, ...] = ()
) -> Framework:
    label, _, server = name.partition("/")
    return Framework(name, label, server, target, ceiling, default, io)


_RAW_ASGI = "bench.peers.raw_asgi:app"
_RAW_WSGI = "bench.peers.raw_wsgi:app"
_KETTLE = "bench.peers.kettle_app:app"
_GTHREADS = ("--threads", "16")

FRAMEWORKS: tuple[Framework, ...] = (
    _fw("raw-asgi/uvicorn", _RAW_ASGI, None),
    _fw("raw-asgi/granian-asgi", _RAW_ASGI, None),
    _fw("raw-rsgi/granian-rsgi", "bench.peers.raw_rsgi:app", None),
    _fw("raw-wsgi/gunicorn", _RAW_WSGI, None, io=_GTHREADS),
    _fw("raw-wsgi/granian-wsgi", _RAW_WSGI, None),
    _fw("raw-node/node", "raw_app.js", None),
    _fw("kettle/uvicorn", _KETTLE, "raw-asgi/uvicorn"),
    _fw("kettle/granian-asgi", _KETTLE, "raw-asgi/granian-asgi"),
    _fw("kettle/granian-rsgi", _KETTLE, "raw-rsgi/granian-rsgi"),
    # Not peers: the work kettle's API itself costs, for locating the floor (floor_asgi.py).
    _fw("floor/uvicorn", "bench.peers.floor_asgi:app", "raw-asgi/uvicorn", default=False),
    _fw("floor/granian-asgi", "bench.peers.floor_asgi:app", "raw-asgi/granian-asgi", default=False),
    _fw("floor/granian-rsgi", "bench.peers.floor_rsgi:app", "raw-rsgi/granian-rsgi", default=False),
    _fw("starlette/uvicorn", "bench.peers.starlette_app:app", "raw-asgi/uvicorn"),
    _fw(
        "starlette/granian-asgi",
        "bench.peers.starlette_app:app",
        "raw-asgi/granian-asgi",
        default=False,
    ),
    _fw("fastapi/uvicorn", "bench.peers.fastapi_app:app", "raw-asgi/uvicorn"),
    _fw("blacksheep/uvicorn", "bench.peers.blacksheep_app:app", "raw-asgi/uvicorn"),
    _fw(
        "blacksheep/granian-asgi",
        "bench.peers.blacksheep_app:app",
        "raw-asgi/granian-asgi",
        default=False,
    ),
    _fw("litestar/uvicorn", "bench.peers.litestar_app:app", "raw-asgi/uvicorn"),
    _fw("quart/uvicorn", "bench.peers.quart_app:app", "raw-asgi/uvicorn"),
    _fw("flask/gunicorn", "bench.peers.flask_app:app", "raw-wsgi/gunicorn", io=_GTHREADS),
    _fw("flask/granian-wsgi", "bench.peers.flask_app:app", "raw-wsgi/granian-wsgi"),
    _fw("express/node", "express_app.js", "raw-node/node"),
    _fw("fastify/node", "fastify_app.js", "raw-node/node"),
)
BY_NAME = {fw.name: fw for fw in FRAMEWORKS}
#: How the report names each framework.
DISPLAY = {
    "kettle": "kettle",
    "floor": "floor (kettle's API alone)",
    "starlette": "Starlette",
    "fastapi": "FastAPI",
    "blacksheep": "BlackSheep",
    "litestar": "Litestar",
    "quart": "Quart",
    "flask": "Flask",
    "express": "Express",
    "fastify": "Fastify",
}
#: What ``--quick`` runs unless ``--frameworks`` says otherwise.
QUICK = ("raw-asgi/uvicorn", "kettle/uvicorn", "raw-rsgi/granian-rsgi", "kettle/granian-rsgi")
#: The headline table's columns (README): kettle against the best-known peers.
HEADLINE = (
    "kettle/uvicorn",
    "kettle/granian-rsgi",
    "flask/gunicorn",
    "express/node",
    "fastify/node",
    "starlette/uvicorn",
    "fastapi/uvicorn",
    "blacksheep/uvicorn",
)


def select(spec: str | None, *, quick: bool) -> list[Framework]:
    """The frameworks named by ``spec`` (comma-separated names, label prefixes such as
    ``kettle``, ``all`` or ``default``), with the ceilings they need added, in registry
    order.
    """
    if spec is None:
        spec = ",".join(QUICK) if quick else "default"
    chosen: set[str] = set()
    for word in (part.strip() for part in spec.split(",")):
        if not word:
            continue
        if word == "all":
            chosen.update(BY_NAME)
        elif word == "default":
            chosen.update(fw.name for fw in FRAMEWORKS if fw.default)
        elif word in BY_NAME:
            chosen.add(word)
        else:
            matches = {fw.name for fw in FRAMEWORKS if fw.label == word}
            if not matches:
                known = ", ".join(BY_NAME)
                raise SystemExit(f"unknown framework {word!r}; known: {known}, all, default")
            chosen.update(matches)
    for name in list(chosen):
        ceiling = BY_NAME[name].ceiling
        if ceiling is not None:
            chosen.add(ceiling)
    return [fw for fw in FRAMEWORKS if fw.name in chosen]

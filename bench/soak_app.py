"""The app bench/soak.py serves: small answers, a large stream, a body reader, a debug route.

Served as ``bench.soak_app:app`` from the repository root, on the loopback interface only.
``/_soak/tasks`` exists in this app alone: it tells the soak how many asyncio tasks the
server's loop still runs, so that leaked tasks show once every client is gone.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from kettle import Kettle, Request, Response, StreamingResponse, TextResponse

#: The streamed answer: 8 MiB in 64 KiB chunks, the size a download or an export might have.
STREAM_CHUNK = 64 * 1024
STREAM_CHUNKS = 128

# PERF: one chunk object sent again and again, so the soak measures what the framework
# and the server hold per slow reader, not what this app allocates.
_CHUNK = b"s" * STREAM_CHUNK

app = Kettle(
    __name__,
    config={"SECRET_KEY": os.environ.get("KETTLE_SECRET_KEY", "soak-" + "x" * 32)},
    template_folder=None,
    static_folder=None,
)


@app.get("/plaintext")
async def plaintext(req: Request) -> Response:
    """The smallest answer: what normal traffic mostly asks for."""
    return TextResponse("Hello, World!")


@app.get("/json")
async def json(req: Request) -> dict[str, str]:
    """A small JSON answer."""
    return {"message": "Hello, World!"}


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(STREAM_CHUNKS):
        yield _CHUNK


@app.get("/stream")
async def stream(req: Request) -> Response:
    """8 MiB streamed; clients that never read it hold the server's send side."""
    return StreamingResponse(
        _chunks(),
        media_type="application/octet-stream",
        headers={"content-length": str(STREAM_CHUNK * STREAM_CHUNKS)},
    )


@app.post("/upload")
async def upload(req: Request) -> dict[str, int]:
    """Read the whole body (up to the app's limit) and say how long it was."""
    body = await req.body()
    return {"received": len(body)}


def _task_name(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", None) or type(coro).__name__


@app.get("/_soak/tasks")
async def soak_tasks(req: Request) -> dict[str, Any]:
    """The live asyncio tasks of this loop (this request's own task included), by coroutine.

    Also how many kettle request objects the garbage collector can still reach: that comes
    back to its idle value once the clients are gone, unless something leaks.
    """
    tasks = asyncio.all_tasks()
    by_coro = Counter(_task_name(task) for task in tasks)
    collections = [generation["collections"] for generation in gc.get_stats()]
    gc.collect()
    requests = sum(1 for obj in gc.get_objects() if isinstance(obj, Request))
    return {
        "tasks": len(tasks),
        "by_coroutine": dict(by_coro.most_common(10)),
        "request_objects": requests,
        "gc_collections": collections,
    }

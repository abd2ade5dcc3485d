"""Which request is being served, for Flask-style helpers that are not handed ``req``.

A ``ContextVar`` would be the textbook tool, but measured on uvicorn, setting one per
request made the cyclic garbage collector run about 200 times more often (several percent
of all CPU time). So the loop side keys the request by its asyncio task — a dict insert and
delete per request, nothing for the collector — and worker threads keep theirs in a
thread-local, set when kettle hands a request to the thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .requests import Request

by_task: dict[Any, Request] = {}
in_thread = threading.local()
current_task = asyncio.current_task


def get_current_request() -> Request | None:
    """The request the calling task or worker thread is serving, or ``None``."""
    try:
        task = current_task()
    except RuntimeError:  # no running loop: a worker thread, or no request at all
        task = None
    if task is not None:
        request = by_task.get(task)
        if request is not None:
            return request
    request = getattr(in_thread, "request", None)
    return request

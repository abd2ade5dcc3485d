"""Count garbage collections (and their time) in a server process; printed at exit.

    taskset -c 0 python -m uvicorn bench.gcprobe:app --loop uvloop --http httptools
    # load it with wrk, stop the server with Ctrl-C, read the GC line on stderr

``bench.gcprobe:suite`` is the suite's kettle app (``bench/peers/kettle_app.py``: 1,000
routes, templates, a database pool), where the heap freeze after startup was measured
(``KETTLE_GC_FREEZE=false`` turns it off)::

    taskset -c 0 python -m uvicorn bench.gcprobe:suite --loop uvloop --http httptools
    taskset -c 1 wrk -t1 -c1000 -d8s http://127.0.0.1:8000/io

This is how the per-request ContextVar was found to make the collector run ~200 times more
often than a raw ASGI app (see kettle/_current.py).
"""

import atexit
import gc
import sys
import time

from bench.apps import app, raw
from bench.peers.kettle_app import app as suite

stats = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
_start = [0.0]


def _cb(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _start[0] = time.perf_counter()
    else:
        s = stats[info["generation"]]
        s[0] += 1
        s[1] += time.perf_counter() - _start[0]


gc.callbacks.append(_cb)
atexit.register(
    lambda: print(
        "GC", {g: (n, round(t * 1000, 1)) for g, (n, t) in stats.items()}, file=sys.stderr
    )
)
__all__ = ["app", "raw", "suite"]

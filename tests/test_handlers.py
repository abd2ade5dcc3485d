"""Call plans and sync offload; mirrors kettle/handlers.py."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from kettle import Request, SetupError
from kettle.testing import AsyncTestClient, TestClient

from .conftest import MakeApp


def test_parameters_by_name_annotation_and_default(make_app: MakeApp) -> None:
    app = make_app()

    @app.get("/a/<int:id>/<slug>")
    async def by_name(request: Request, slug: str, id: int) -> dict[str, Any]:
        return {"id": id, "slug": slug, "path": request.path}

    @app.get("/b/<int:id>")
    async def by_annotation(r: Request, id: int, extra: str = "default") -> dict[str, Any]:
        return {"id": id, "extra": extra, "method": r.method}

    @app.get("/c/<x>")
    async def no_request(x: str) -> str:
        return x

    @app.get("/d")
    def nothing() -> str:
        return "nothing"

    @app.get("/e/<a>/<b>")
    async def kwargs(req: Request, **params: str) -> dict[str, str]:
        return params

    @app.get("/f/<a>/<b>")
    async def some_params(req: Request, a: str) -> dict[str, Any]:
        return {"a": a, "all": req.path_params}

    with TestClient(app) as client:
        assert client.get("/a/1/x").json() == {"id": 1, "slug": "x", "path": "/a/1/x"}
        assert client.get("/b/2").json() == {"id": 2, "extra": "default", "method": "GET"}
        assert client.get("/c/hi").text == "hi"
        assert client.get("/d").text == "nothing"
        assert client.get("/e/1/2").json() == {"a": "1", "b": "2"}
        assert client.get("/f/1/2").json() == {"a": "1", "all": {"a": "1", "b": "2"}}


def test_a_parameter_nothing_supplies_is_a_setup_error_naming_the_handler(
    make_app: MakeApp,
) -> None:
    app = make_app()

    async def show_user(req: Request, user_id: int) -> None: ...

    with pytest.raises(SetupError, match=r"show_user.*'user_id'.*not a path parameter \(id\)"):
        app.get("/users/<int:id>")(show_user)


def test_sync_handlers_run_in_worker_threads(make_app: MakeApp) -> None:
    app = make_app()
    loop_threads: list[str] = []

    @app.get("/sync")
    def sync(req: Request) -> str:
        return threading.current_thread().name

    @app.get("/async")
    async def run_async(req: Request) -> str:
        loop_threads.append(threading.current_thread().name)
        return threading.current_thread().name

    @app.get("/inline", inline=True)
    def inline(req: Request) -> str:
        return threading.current_thread().name

    with TestClient(app) as client:
        assert client.get("/sync").text.startswith("kettle-sync")
        loop_thread = client.get("/async").text
        assert client.get("/inline").text == loop_thread
        assert not loop_thread.startswith("kettle-sync")


@pytest.mark.anyio
async def test_a_sleeping_sync_handler_does_not_block_the_loop(make_app: MakeApp) -> None:
    # Ordering, not timing: the async request is answered while the sync one still sleeps.
    app = make_app()
    release = threading.Event()
    order: list[str] = []

    @app.get("/slow")
    def slow(req: Request) -> str:
        release.wait(timeout=30)
        time.sleep(0.01)
        order.append("slow done")
        return "slow"

    @app.get("/fast")
    async def fast(req: Request) -> str:
        order.append("fast done")
        return "fast"

    async with AsyncTestClient(app) as client:
        slow_request = asyncio.ensure_future(client.get("/slow"))
        await asyncio.sleep(0)
        fast_response = await client.get("/fast")
        assert fast_response.text == "fast"
        assert order == ["fast done"]
        release.set()
        assert (await slow_request).text == "slow"
    assert order == ["fast done", "slow done"]


def test_thread_pool_size_comes_from_config(make_app: MakeApp) -> None:
    app = make_app(THREAD_POOL_SIZE=2)
    barrier = threading.Barrier(3, timeout=0.5)
    results: list[str] = []

    @app.get("/wait")
    def wait(req: Request) -> str:
        try:
            barrier.wait()
            return "three at once"
        except threading.BrokenBarrierError:
            return "at most two at once"

    with TestClient(app) as client:
        threads = [
            threading.Thread(target=lambda: results.append(client.get("/wait").text))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert "three at once" not in results


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

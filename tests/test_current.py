"""Helpers that are not handed ``req`` find the request being served; mirrors
kettle/_current.py. ``render_template_string("{{ req.path }}")`` is the probe: it renders
with the request it looks up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kettle import Request, Response, SetupError, render_template_string, url_for
from kettle.testing import AsyncTestClient, TestClient

from .conftest import MakeApp

PROBE = "{{ req.path }}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_interleaved_requests_each_find_their_own(make_app: MakeApp) -> None:
    app = make_app()
    count = 12
    # Every handler is suspended at once before it looks, so the lookups interleave.
    barrier = asyncio.Barrier(count)

    @app.get("/who/<int:n>")
    async def who(req: Request, n: int) -> str:
        await barrier.wait()
        first = render_template_string(PROBE)
        await asyncio.sleep(0)
        return f"{first} {render_template_string(PROBE)}"

    async with AsyncTestClient(app) as client:
        responses = await asyncio.gather(*(client.get(f"/who/{n}") for n in range(count)))
    assert [r.text for r in responses] == [f"/who/{n} /who/{n}" for n in range(count)]


def test_sync_handler_in_a_worker_thread(make_app: MakeApp) -> None:
    app = make_app()

    @app.get("/sync")
    def sync(req: Request) -> str:
        return render_template_string(PROBE)

    with TestClient(app) as client:
        assert client.get("/sync").text == "/sync"


def test_async_handler_under_a_sync_middleware(make_app: MakeApp) -> None:
    # The middleware runs in a worker thread and the handler on the loop, in a task of
    # its own: the bridge between them carries the request.
    app = make_app()

    @app.use
    def in_thread(req: Request, call_next: Callable[[Request], Response]) -> Response:
        response = call_next(req)
        response.headers["x-seen"] = render_template_string(PROBE)
        return response

    @app.get("/mixed")
    async def mixed(req: Request) -> str:
        await asyncio.sleep(0)
        return render_template_string(PROBE)

    with TestClient(app) as client:
        response = client.get("/mixed")
    assert (response.text, response.headers["x-seen"]) == ("/mixed", "/mixed")


def test_middleware_and_error_handler_find_it(make_app: MakeApp) -> None:
    app = make_app()

    @app.use
    async def outer(req: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(req)
        response.headers["x-seen"] = render_template_string(PROBE)
        return response

    @app.get("/boom")
    async def boom(req: Request) -> str:
        raise LookupError("no such thing")

    @app.errorhandler(LookupError)
    async def missing(req: Request, exc: Exception) -> tuple[str, int]:
        return render_template_string("gone: " + PROBE), 404

    with TestClient(app) as client:
        response = client.get("/boom")
    assert response.status_code == 404
    assert (response.text, response.headers["x-seen"]) == ("gone: /boom", "/boom")


@pytest.mark.anyio
async def test_a_request_served_inside_another_is_found_then_the_outer_again(
    make_app: MakeApp,
) -> None:
    app = make_app()
    inner_client = AsyncTestClient(app)

    @app.get("/inner")
    async def inner(req: Request) -> str:
        return render_template_string(PROBE)

    @app.get("/outer")
    async def outer(req: Request) -> dict[str, Any]:
        # The same task serves a second request while this one waits for it.
        inside = (await inner_client.get("/inner")).text
        return {"inside": inside, "after": render_template_string(PROBE)}

    async with AsyncTestClient(app) as client:
        response = await client.get("/outer")
    assert response.json() == {"inside": "/inner", "after": "/outer"}


@pytest.mark.anyio
async def test_a_task_the_handler_starts_is_outside_the_request(make_app: MakeApp) -> None:
    # As with Flask: a background task does not inherit the request it was started from.
    app = make_app()

    async def later() -> str:
        try:
            return url_for("spawn")
        except SetupError as exc:
            return str(exc)

    @app.get("/spawn")
    async def spawn(req: Request) -> str:
        return await asyncio.create_task(later())

    async with AsyncTestClient(app) as client:
        response = await client.get("/spawn")
    assert "outside a request" in response.text


def test_outside_any_request_there_is_none() -> None:
    with pytest.raises(SetupError, match="outside a request"):
        url_for("anything")

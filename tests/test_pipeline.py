"""Middleware (``use``), hooks and their order; mirrors kettle/pipeline.py."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

import pytest

from kettle import Kettle, Request, Response, Router, TextResponse
from kettle.testing import TestClient

from .conftest import MakeApp

CallNext = Callable[[Request], Awaitable[Response]]


def tagging(tag: str, log: list[str]) -> Callable[[Request, CallNext], Awaitable[Response]]:
    async def mw(req: Request, call_next: CallNext) -> Response:
        log.append(f"{tag}>")
        response = await call_next(req)
        log.append(f"<{tag}")
        response.headers.add("x-trail", tag)
        return response

    return mw


def sync_tagging(
    tag: str, log: list[str]
) -> Callable[[Request, Callable[[Request], Response]], Response]:
    def mw(req: Request, call_next: Callable[[Request], Response]) -> Response:
        log.append(f"{tag}>")
        response = call_next(req)
        log.append(f"<{tag}")
        response.headers.add("x-trail", tag)
        return response

    return mw


def test_order_is_registration_order_outermost_first(make_app: MakeApp) -> None:
    log: list[str] = []
    app = make_app()
    api = Router("api")
    app.use(tagging("app1", log), tagging("app2", log))
    api.use(tagging("router", log))

    async def handler(req: Request) -> str:
        log.append("handler")
        return "ok"

    api.add_route("/x", handler, middleware=[tagging("route", log)])
    app.mount("/api", api)
    with TestClient(app) as client:
        response = client.get("/api/x")
    assert log == [
        "app1>",
        "app2>",
        "router>",
        "route>",
        "handler",
        "<route",
        "<router",
        "<app2",
        "<app1",
    ]
    assert response.headers.get_list("x-trail") == ["route", "router", "app2", "app1"]


def test_middleware_may_answer_without_calling_next(make_app: MakeApp) -> None:
    app = make_app()

    @app.use
    async def gate(req: Request, call_next: CallNext) -> Response:
        if req.headers.get("authorization") != "Bearer ok":
            return TextResponse("no", 401)
        return await call_next(req)

    @app.get("/")
    async def index(req: Request) -> str:
        return "in"

    with TestClient(app) as client:
        assert client.get("/").status_code == 401
        assert client.get("/", headers={"authorization": "Bearer ok"}).text == "in"


@pytest.mark.parametrize("handler_is_async", [True, False])
def test_sync_and_async_middleware_mix(make_app: MakeApp, handler_is_async: bool) -> None:
    log: list[str] = []
    app = make_app()
    app.use(
        sync_tagging("s1", log),
        tagging("a1", log),
        sync_tagging("s2", log),
        sync_tagging("s3", log),
    )

    if handler_is_async:

        async def handler(req: Request) -> str:
            return "ok"

    else:

        def handler(req: Request) -> str:  # type: ignore[misc]
            return "ok"

    app.add_route("/", handler)
    with TestClient(app) as client:
        response = client.get("/")
    assert response.text == "ok"
    assert log == ["s1>", "a1>", "s2>", "s3>", "<s3", "<s2", "<a1", "<s1"]


def test_a_sync_chain_takes_one_trip_to_a_thread(make_app: MakeApp) -> None:
    threads: list[str] = []
    app = make_app()

    def record(req: Request, call_next: Callable[[Request], Response]) -> Response:
        threads.append(threading.current_thread().name)
        return call_next(req)

    app.use(record, record)

    @app.before_request
    def before(req: Request) -> None:
        threads.append(threading.current_thread().name)

    @app.get("/")
    def index(req: Request) -> str:
        threads.append(threading.current_thread().name)
        return "ok"

    with TestClient(app) as client:
        assert client.get("/").text == "ok"
    assert len(threads) == 4 and len(set(threads)) == 1
    assert threads[0].startswith("kettle-sync")


def test_path_scoped_middleware(make_app: MakeApp) -> None:
    app = make_app()
    log: list[str] = []
    app.use("/admin", tagging("admin", log))

    @app.use("/api")
    async def api_only(req: Request, call_next: CallNext) -> Response:
        response = await call_next(req)
        response.headers["x-api"] = "1"
        return response

    for path in ("/admin", "/admin/users", "/administrator", "/other", "/api/x"):

        async def handler(req: Request) -> str:
            return "ok"

        app.add_route(path, handler, name=path.replace("/", "_") or "root")

    @app.get("/<section>/dyn")
    async def dynamic(req: Request, section: str) -> str:
        return section

    with TestClient(app) as client:
        trails = {
            p: client.get(p).headers.get("x-trail")
            for p in ("/admin", "/admin/users", "/administrator", "/other")
        }
        assert trails == {
            "/admin": "admin",
            "/admin/users": "admin",
            "/administrator": None,
            "/other": None,
        }
        # A converter where the prefix has text: decided per request.
        assert client.get("/admin/dyn").headers.get("x-trail") == "admin"
        assert client.get("/public/dyn").headers.get("x-trail") is None
        assert client.get("/api/x").headers["x-api"] == "1"
        # 404s under the prefix pass through it too.
        assert client.get("/admin/missing").headers.get("x-trail") == "admin"


def test_404_and_405_pass_through_app_and_router_middleware(make_app: MakeApp) -> None:
    log: list[str] = []
    app = make_app()
    app.use(tagging("app", log))
    api = Router("api")
    api.use(tagging("api", log))

    @api.get("/items")
    async def items(req: Request) -> list[int]:
        return []

    app.mount("/api", api)
    with TestClient(app) as client:
        assert client.get("/nowhere").headers.get_list("x-trail") == ["app"]
        missing = client.get("/api/nowhere")
        assert missing.status_code == 404 and missing.headers.get_list("x-trail") == ["api", "app"]
        wrong = client.post("/api/items")
        assert wrong.status_code == 405 and wrong.headers.get_list("x-trail") == ["api", "app"]
        options = client.options("/api/items")
        assert options.status_code == 204 and options.headers.get_list("x-trail") == ["api", "app"]


class TestHooks:
    @pytest.mark.parametrize("asynchronous", [True, False])
    def test_before_after_teardown(self, make_app: MakeApp, asynchronous: bool) -> None:
        log: list[str] = []
        app = make_app()
        if asynchronous:

            @app.before_request
            async def before(req: Request) -> None:
                req.state.user = "ada"
                log.append("before")

            @app.after_request
            async def after(req: Request, response: Response) -> Response:
                response.headers["x-after"] = req.state.user
                log.append("after")
                return response

            @app.teardown_request
            async def teardown(req: Request, exc: BaseException | None) -> None:
                log.append(f"teardown:{type(exc).__name__ if exc else None}")

        else:

            @app.before_request
            def before_sync(req: Request) -> None:
                req.state.user = "ada"
                log.append("before")

            @app.after_request
            def after_sync(req: Request, response: Response) -> Response:
                response.headers["x-after"] = req.state.user
                log.append("after")
                return response

            @app.teardown_request
            def teardown_sync(req: Request, exc: BaseException | None) -> None:
                log.append(f"teardown:{type(exc).__name__ if exc else None}")

        @app.get("/")
        async def index(req: Request) -> str:
            log.append("handler")
            return str(req.state.user)

        @app.get("/boom")
        async def boom(req: Request) -> str:
            raise KeyError("x")

        with TestClient(app) as client:
            response = client.get("/")
            assert (response.text, response.headers["x-after"]) == ("ada", "ada")
            assert log == ["before", "handler", "after", "teardown:None"]
            log.clear()
            assert client.get("/boom").status_code == 500
            assert log == ["before", "after", "teardown:KeyError"]

    def test_before_request_can_answer(self, make_app: MakeApp) -> None:
        app = make_app()

        @app.before_request
        def maintenance(req: Request) -> tuple[str, int] | None:
            return ("down for maintenance", 503) if req.query.get("down") else None

        @app.get("/")
        def index(req: Request) -> str:
            return "up"

        with TestClient(app) as client:
            assert client.get("/").text == "up"
            down = client.get("/?down=1")
            assert (down.status_code, down.text) == (503, "down for maintenance")

    def test_router_hooks_apply_to_its_routes_only(self, make_app: MakeApp) -> None:
        app = make_app()
        admin = Router("admin")

        @admin.before_request
        def only_admins(req: Request) -> tuple[str, int] | None:
            return ("forbidden", 403) if "admin" not in req.headers.get("x-role", "") else None

        @admin.get("/")
        def panel(req: Request) -> str:
            return "panel"

        @app.get("/")
        def home(req: Request) -> str:
            return "home"

        app.mount("/admin", admin)
        with TestClient(app) as client:
            assert client.get("/").text == "home"
            assert client.get("/admin/").status_code == 403
            assert client.get("/admin/", headers={"x-role": "admin"}).text == "panel"

    def test_teardown_errors_are_logged_not_sent(
        self, make_app: MakeApp, caplog: pytest.LogCaptureFixture
    ) -> None:
        app = make_app()

        @app.teardown_request
        def broken(req: Request, exc: BaseException | None) -> None:
            raise RuntimeError("teardown broke")

        @app.get("/")
        def index(req: Request) -> str:
            return "fine"

        with TestClient(app) as client:
            assert client.get("/").text == "fine"
        assert "teardown hook" in caplog.text and "teardown broke" in caplog.text


def test_chain_is_composed_once_at_finalize(make_app: MakeApp) -> None:
    app = make_app()
    calls = 0

    @app.use
    async def counting(req: Request, call_next: CallNext) -> Response:
        nonlocal calls
        calls += 1
        return await call_next(req)

    @app.get("/")
    async def index(req: Request) -> str:
        return "ok"

    app.finalize()
    chain_before = app._static["/"].methods["GET"].chain
    with TestClient(app) as client:
        for _ in range(3):
            client.get("/")
    assert app._static["/"].methods["GET"].chain is chain_before
    assert calls == 3


def test_use_mounts_a_router_express_style(make_app: MakeApp) -> None:
    app = make_app()
    router = Router("r")

    @router.get("/hi")
    async def hi(req: Request) -> str:
        return "hi"

    app.use("/r", router)
    with TestClient(app) as client:
        assert client.get("/r/hi").text == "hi"


def test_middleware_sees_the_body_and_handler_reads_it_again(app_with_echo: Kettle) -> None:
    with TestClient(app_with_echo) as client:
        response = client.post("/echo", content=b"payload")
    assert response.json() == {"seen_by_middleware": "payload", "handler": "payload"}


@pytest.fixture
def app_with_echo(make_app: MakeApp) -> Kettle:
    app = make_app()

    @app.use
    async def peek(req: Request, call_next: CallNext) -> Response:
        req.state.peeked = (await req.body()).decode()
        return await call_next(req)

    @app.post("/echo")
    async def echo(req: Request) -> dict[str, str]:
        return {"seen_by_middleware": req.state.peeked, "handler": (await req.body()).decode()}

    return app

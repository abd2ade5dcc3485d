"""abort(), the HTTPError tree and error handlers; mirrors kettle/exceptions.py + pipeline."""

from __future__ import annotations

import logging

import pytest

from kettle import (
    BadRequest,
    HTTPError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Request,
    Response,
    Router,
    SetupError,
    TextResponse,
    abort,
)
from kettle.testing import TestClient

from .conftest import MakeApp


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (404, NotFound),
        (413, PayloadTooLarge),
        (418, HTTPError),
        (405, HTTPError),
    ],
)
def test_abort_raises_the_matching_class(status: int, cls: type[HTTPError]) -> None:
    with pytest.raises(cls) as info:
        abort(status, "why")
    assert (info.value.status, info.value.detail) == (status, "why")


def test_abort_refuses_non_error_statuses() -> None:
    with pytest.raises(ValueError):
        abort(302)


def test_error_classes_take_detail_first() -> None:
    error = NotFound("no such user", {"x-why": "gone"})
    assert (error.status, error.detail, error.headers) == (404, "no such user", {"x-why": "gone"})
    assert MethodNotAllowed(["GET"]).headers == {"allow": "GET"}


@pytest.mark.parametrize(
    ("accept", "content_type", "fragment"),
    [
        ("application/json", "application/json", '"detail":"no such user"'),
        ("text/html,application/xhtml+xml", "text/html; charset=utf-8", "<h1>404 Not Found</h1>"),
        ("*/*", "application/json", '"status":404'),
    ],
)
def test_default_error_response_negotiates(
    make_app: MakeApp, accept: str, content_type: str, fragment: str
) -> None:
    app = make_app()

    @app.get("/users/<int:id>")
    async def user(req: Request, id: int) -> None:
        abort(404, "no such user")

    with TestClient(app) as client:
        response = client.get("/users/1", headers={"accept": accept})
    assert response.status_code == 404
    assert response.headers["content-type"] == content_type
    assert fragment in response.text


def test_html_error_page_escapes_the_detail(make_app: MakeApp) -> None:
    app = make_app()

    @app.get("/")
    async def index(req: Request) -> None:
        abort(400, "<script>alert(1)</script>")

    with TestClient(app) as client:
        text = client.get("/", headers={"accept": "text/html"}).text
    assert "<script>" not in text and "&lt;script&gt;" in text


class TestErrorHandlers:
    def test_by_status_and_by_class_along_the_mro(self, make_app: MakeApp) -> None:
        app = make_app()

        class AppError(Exception):
            pass

        class PaymentError(AppError):
            pass

        @app.errorhandler(404)
        def not_found(req: Request, exc: HTTPError) -> tuple[str, int]:
            return f"custom 404 for {req.path}", 404

        @app.errorhandler(AppError)
        async def app_error(req: Request, exc: AppError) -> Response:
            return TextResponse(f"app error: {type(exc).__name__}", 402)

        @app.get("/pay")
        async def pay(req: Request) -> None:
            raise PaymentError()

        with TestClient(app) as client:
            assert client.get("/missing").text == "custom 404 for /missing"
            paid = client.get("/pay")
            assert (paid.status_code, paid.text) == (402, "app error: PaymentError")

    def test_router_handler_wins_for_its_routes(self, make_app: MakeApp) -> None:
        app = make_app()
        api = Router("api")

        @app.errorhandler(KeyError)
        def app_handler(req: Request, exc: Exception) -> str:
            return "app"

        @api.errorhandler(Exception)
        def api_handler(req: Request, exc: Exception) -> str:
            return "api"

        @api.get("/x")
        async def x(req: Request) -> None:
            raise KeyError("k")

        @app.get("/y")
        async def y(req: Request) -> None:
            raise KeyError("k")

        app.mount("/api", api)
        with TestClient(app) as client:
            assert client.get("/api/x").text == "api"
            assert client.get("/y").text == "app"

    def test_errors_from_middleware_use_the_same_handlers(self, make_app: MakeApp) -> None:
        app = make_app()

        @app.use
        async def broken(req: Request, call_next: object) -> Response:
            raise ValueError("middleware broke")

        @app.errorhandler(ValueError)
        def handled(req: Request, exc: ValueError) -> tuple[str, int]:
            return f"handled: {exc}", 400

        @app.get("/")
        async def index(req: Request) -> str:
            return "never"

        with TestClient(app) as client:
            response = client.get("/")
        assert (response.status_code, response.text) == (400, "handled: middleware broke")

    def test_error_inside_an_error_handler_is_a_plain_500(
        self, make_app: MakeApp, caplog: pytest.LogCaptureFixture
    ) -> None:
        app = make_app()

        @app.errorhandler(404)
        def broken_handler(req: Request, exc: Exception) -> str:
            raise RuntimeError("handler broke")

        with TestClient(app) as client:
            response = client.get("/missing")
        request_id = response.headers["x-request-id"]
        assert response.status_code == 500
        assert response.text == f"Internal Server Error (request id {request_id})"
        assert "handler broke" in caplog.text
        assert f"[request id {request_id}]" in caplog.text

    @pytest.mark.parametrize("key", [200, 700, "404", object])
    def test_bad_keys_are_refused(self, make_app: MakeApp, key: object) -> None:
        with pytest.raises(SetupError):
            make_app().errorhandler(key)(lambda req, exc: None)  # type: ignore[arg-type]


class TestUnhandled:
    def test_500_without_traceback_and_logged(
        self, make_app: MakeApp, caplog: pytest.LogCaptureFixture
    ) -> None:
        app = make_app()

        @app.get("/boom")
        async def boom(req: Request) -> None:
            raise RuntimeError("<b>secret detail</b>")

        @app.get("/ok")
        async def ok(req: Request) -> str:
            return "ok"

        with caplog.at_level(logging.ERROR, logger="kettle.error"), TestClient(app) as client:
            response = client.get("/boom", headers={"accept": "text/html"})
            assert response.status_code == 500
            assert "secret" not in response.text and "Traceback" not in response.text
            assert client.get("/ok").text == "ok"  # the worker keeps serving
        assert "secret detail" in caplog.text and "Traceback" in caplog.text
        assert "GET /boom" in caplog.text

    def test_debug_shows_the_traceback(
        self, make_app: MakeApp, caplog: pytest.LogCaptureFixture
    ) -> None:
        app = make_app(DEBUG=True)

        @app.get("/boom")
        def boom(req: Request) -> None:
            raise RuntimeError("visible in debug")

        with TestClient(app) as client:
            response = client.get("/boom")
        assert response.status_code == 500
        assert "Traceback" in response.json()["error"]["detail"]
        assert "visible in debug" in response.json()["error"]["detail"]

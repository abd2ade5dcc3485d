"""Security on by default: the headers the adapter adds and the CSRF check on unsafe methods.

Mirrors kettle/security/_install.py and the adapter's dressing in kettle/servers/asgi.py
(SECURITY.md "Defaults kettle ships", hostile case 43). Every app here is a plain one: no
security middleware is installed by the test, the defaults do the work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from kettle import (
    Kettle,
    Request,
    Response,
    Router,
    SetupError,
    StreamingResponse,
    redirect,
    render_template_string,
)
from kettle.pipeline import CallNext
from kettle.security import CSRFProtection, SecurityHeaders, security_headers
from kettle.testing import TestClient
from tests.conftest import MakeApp
from tests.security.test_headers import ALL_NAMES, API, HELMET, HSTS

HTML_ACCEPT = {"accept": "text/html"}


def ours(response: httpx.Response) -> dict[str, str]:
    """The security headers of ``response``; none may appear twice."""
    found = {}
    for name in (*ALL_NAMES, "x-powered-by"):
        values = response.headers.get_list(name)
        assert len(values) <= 1, (name, values)
        if values:
            found[name] = values[0]
    return found


def site(make_app: MakeApp, **config: Any) -> Kettle:
    """An app answering in every shape the adapter has a path for."""
    app = make_app(**config)

    @app.get("/dict")
    async def as_dict(req: Request) -> dict[str, int]:
        return {"a": 1}  # the adapter's fast path: no Response object at all

    @app.get("/html")
    async def as_html(req: Request) -> str:
        return "<p>hi</p>"

    @app.get("/text")
    async def as_text(req: Request) -> Response:
        return Response("plain", media_type="text/plain")

    @app.get("/stream")
    async def as_stream(req: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[str]:
            yield "<p>"
            yield "streamed</p>"

        return StreamingResponse(chunks())

    @app.get("/boom")
    async def boom(req: Request) -> str:
        raise RuntimeError("boom")

    @app.get("/teapot")
    async def teapot(req: Request) -> str:
        raise LookupError("handled")

    @app.errorhandler(LookupError)
    async def page(req: Request, exc: Exception) -> tuple[str, int]:
        return "<h1>custom</h1>", 418

    @app.get("/away")
    async def away(req: Request) -> Response:
        return redirect("/html")

    @app.get("/own-csp")
    async def own_csp(req: Request) -> Response:
        return Response(
            "<p>x</p>",
            media_type="text/html",
            headers={"content-security-policy": "default-src 'none'", "x-powered-by": "PHP"},
        )

    return app


# (path, method, extra request headers, status, the set expected)
SHAPES = [
    ("/dict", "GET", {}, 200, API),
    ("/dict", "HEAD", {}, 200, API),
    ("/html", "GET", {}, 200, HELMET),
    ("/text", "GET", {}, 200, API),
    ("/stream", "GET", {}, 200, HELMET),
    ("/nowhere", "GET", {}, 404, API),
    ("/nowhere", "GET", HTML_ACCEPT, 404, HELMET),
    ("/html", "DELETE", {}, 405, API),
    ("/boom", "GET", {}, 500, API),
    ("/boom", "GET", HTML_ACCEPT, 500, HELMET),
    ("/teapot", "GET", {}, 418, HELMET),
    ("/away", "GET", {}, 302, HELMET),
]


@pytest.mark.parametrize(("path", "method", "headers", "status", "expected"), SHAPES)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_every_response_shape_is_dressed(
    make_app: MakeApp,
    path: str,
    method: str,
    headers: dict[str, str],
    status: int,
    expected: dict[str, str],
    scheme: str,
) -> None:
    with TestClient(site(make_app), base_url=f"{scheme}://testserver") as client:
        response = client.request(method, path, headers=headers)
    assert response.status_code == status
    wanted = dict(expected)
    if scheme == "https":
        wanted["strict-transport-security"] = HSTS
    assert ours(response) == wanted


def test_a_handlers_own_header_is_kept_and_x_powered_by_dropped(make_app: MakeApp) -> None:
    with TestClient(site(make_app)) as client:
        response = client.get("/own-csp")
    expected = {**HELMET, "content-security-policy": "default-src 'none'"}
    assert ours(response) == expected


def switched_off(
    build: Callable[..., Kettle], how: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> Kettle:
    """``build()`` with the feature named by ``key`` turned off by config, env or attribute."""
    if how == "env":
        monkeypatch.setenv(f"KETTLE_{key}", "0")
    app = build(**({key: False} if how == "config" else {}))
    if how == "attribute":
        setattr(
            app, {"SECURITY_HEADERS": "security_headers", "CSRF_PROTECTION": "csrf"}[key], False
        )
    return app


@pytest.mark.parametrize("how", ["config", "env", "attribute"])
@pytest.mark.parametrize("path", ["/dict", "/html", "/nowhere", "/boom"])
def test_security_headers_can_be_turned_off(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, how: str, path: str
) -> None:
    app = switched_off(lambda **c: site(make_app, **c), how, "SECURITY_HEADERS", monkeypatch)
    with TestClient(app, base_url="https://testserver") as client:
        response = client.get(path)
    assert ours(response) == {}


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/html", "content-security-policy", "default-src 'self'; img-src https:"),
        ("/dict", "x-frame-options", "SAMEORIGIN"),  # the fast path uses the app's instance
        ("/text", "x-frame-options", "SAMEORIGIN"),
    ],
)
def test_the_app_wide_instance_can_be_customised(
    make_app: MakeApp, path: str, name: str, value: str
) -> None:
    app = site(make_app)
    app.security_headers = SecurityHeaders(
        csp="default-src 'self'; img-src https:",
        api_headers={"X-Frame-Options": "SAMEORIGIN"},
    )
    with TestClient(app) as client:
        response = client.get(path)
    assert ours(response)[name] == value


@pytest.mark.parametrize("value", ["yes", True, 1, object()])
def test_a_value_that_is_not_security_headers_is_a_setup_error(
    make_app: MakeApp, value: Any
) -> None:
    app = make_app()
    app.security_headers = value
    with pytest.raises(SetupError, match="security_headers"):
        app.finalize()


def test_a_route_or_router_instance_wins_without_duplicates(make_app: MakeApp) -> None:
    app = make_app()
    embeddable = security_headers(frame_options=None, csp={"frame-ancestors": "*"})

    @app.get("/embed", middleware=[embeddable])
    async def embed(req: Request) -> str:
        return "<p>embed</p>"

    @app.get("/embed-data", middleware=[embeddable])
    async def embed_data(req: Request) -> dict[str, int]:
        return {"a": 1}

    widgets = Router()
    widgets.use(security_headers(referrer_policy="same-origin"))

    @widgets.get("/w")
    async def widget(req: Request) -> str:
        return "<p>w</p>"

    app.mount("/widgets", widgets)
    with TestClient(app) as client:
        embed_page = client.get("/embed")
        embed_json = client.get("/embed-data")
        widget_page = client.get("/widgets/w")
    page_headers = ours(embed_page)
    assert "x-frame-options" not in page_headers
    assert "frame-ancestors *" in page_headers["content-security-policy"]
    # frame_options= is a document setting; the route's instance still sends its API set.
    assert ours(embed_json) == API
    assert ours(widget_page) == {**HELMET, "referrer-policy": "same-origin"}


# --- CSRF -----------------------------------------------------------------------------------

UNSAFE = ["POST", "PUT", "PATCH", "DELETE"]
CROSS_SITE = {"sec-fetch-site": "cross-site"}


async def tag(req: Request, call_next: CallNext) -> Response:
    response = await call_next(req)
    response.headers["x-seen-by-middleware"] = str(response.status_code)
    return response


def guarded_site(make_app: MakeApp, *, middleware: bool = False, **config: Any) -> Kettle:
    app = make_app(**config)
    if middleware:
        app.use(tag)

    @app.route("/submit", methods=["GET", "HEAD", "OPTIONS", *UNSAFE])
    async def submit(req: Request) -> str:
        return f"done {req.method}"

    @app.post("/sync")
    def sync_submit(req: Request) -> str:
        return "done sync"

    @app.post("/hook", csrf=False)
    async def hook(req: Request) -> str:
        return "hooked"

    @app.post("/hooks/<name>")
    async def named_hook(req: Request, name: str) -> str:
        return f"hook {name}"

    api = Router()

    @api.post("/items")
    async def create_item(req: Request) -> str:
        return "created"

    app.mount("/api", api)
    return app


@pytest.mark.parametrize("middleware", [False, True], ids=["bare", "with-middleware"])
@pytest.mark.parametrize("method", UNSAFE)
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"sec-fetch-site": "cross-site"}, 403),
        ({"sec-fetch-site": "same-site"}, 403),
        ({"sec-fetch-site": "same-origin"}, 200),
        ({"sec-fetch-site": "none"}, 200),
        ({"origin": "http://evil.example"}, 403),
        ({"origin": "https://testserver"}, 403),
        ({"origin": "http://testserver"}, 200),
        ({}, 200),
    ],
)
def test_unsafe_methods_are_checked_by_default(
    make_app: MakeApp, middleware: bool, method: str, headers: dict[str, str], status: int
) -> None:
    with TestClient(guarded_site(make_app, middleware=middleware)) as client:
        response = client.request(method, "/submit", headers=headers)
    assert response.status_code == status, response.text
    if middleware:
        # The check runs innermost: app middleware sees the 403 as a response.
        assert response.headers["x-seen-by-middleware"] == str(status)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_pass_whatever_the_headers(make_app: MakeApp, method: str) -> None:
    headers = {**CROSS_SITE, "origin": "http://evil.example"}
    with TestClient(guarded_site(make_app)) as client:
        response = client.request(method, "/submit", headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/submit", "/sync", "/api/items", "/hooks/x"])
def test_sync_async_and_mounted_routes_are_all_guarded(make_app: MakeApp, path: str) -> None:
    with TestClient(guarded_site(make_app)) as client:
        assert client.post(path, headers=CROSS_SITE).status_code == 403
        assert client.post(path).status_code == 200


def test_csrf_false_on_a_route_exempts_it(make_app: MakeApp) -> None:
    with TestClient(guarded_site(make_app)) as client:
        assert client.post("/hook", headers=CROSS_SITE).text == "hooked"


@pytest.mark.parametrize("how", ["config", "env", "attribute"])
def test_csrf_can_be_turned_off(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    app = switched_off(lambda **c: guarded_site(make_app, **c), how, "CSRF_PROTECTION", monkeypatch)
    with TestClient(app) as client:
        assert client.post("/submit", headers=CROSS_SITE).status_code == 200


@pytest.mark.parametrize("source", ["config", "env"])
def test_trusted_origins_and_exemptions_from_settings(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    origins = ["https://partner.example", "https://other.example:8443"]
    exempt = ["/hooks/<name>", "/sync"]
    if source == "env":
        monkeypatch.setenv("KETTLE_CSRF_TRUSTED_ORIGINS", ", ".join(origins))
        monkeypatch.setenv("KETTLE_CSRF_EXEMPT", ", ".join(exempt))
        app = guarded_site(make_app)
    else:
        app = guarded_site(make_app, CSRF_TRUSTED_ORIGINS=origins, CSRF_EXEMPT=exempt)
    with TestClient(app) as client:
        for origin in origins:
            assert client.post("/submit", headers={"origin": origin}).status_code == 200
        assert client.post("/submit", headers={"origin": "https://evil.example"}).status_code == 403
        assert client.post("/hooks/github", headers=CROSS_SITE).status_code == 200
        assert client.post("/sync", headers=CROSS_SITE).status_code == 200
        assert client.post("/api/items", headers=CROSS_SITE).status_code == 403


def test_a_custom_protection_object_is_used(make_app: MakeApp) -> None:
    app = guarded_site(make_app)
    app.csrf = CSRFProtection(trusted_origins=["https://partner.example"])
    with TestClient(app) as client:
        partner = {**CROSS_SITE, "origin": "https://partner.example"}
        assert client.post("/submit", headers=partner).status_code == 200
        assert client.post("/submit", headers=CROSS_SITE).status_code == 403


@pytest.mark.parametrize("value", [True, "yes"])
def test_a_value_that_is_not_csrf_protection_is_a_setup_error(
    make_app: MakeApp, value: Any
) -> None:
    app = guarded_site(make_app)
    app.csrf = value
    with pytest.raises(SetupError, match="csrf"):
        app.finalize()


def test_an_error_handler_renders_the_403(make_app: MakeApp) -> None:
    app = guarded_site(make_app)

    @app.errorhandler(403)
    async def forbidden(req: Request, exc: Exception) -> tuple[str, int]:
        return "<h1>not from there</h1>", 403

    with TestClient(app) as client:
        response = client.post("/submit", headers=CROSS_SITE)
    assert (response.status_code, response.text) == (403, "<h1>not from there</h1>")
    assert ours(response) == HELMET


def test_tokens_from_a_template_are_required_and_accepted(make_app: MakeApp) -> None:
    app = make_app(CSRF_TOKENS=True)

    @app.get("/form")
    async def form(req: Request) -> str:
        return render_template_string("{{ csrf_token() }}")

    @app.post("/form")
    async def submit(req: Request) -> str:
        data = await req.form()
        return f"saved {data.get('title')}"

    with TestClient(app) as client:
        assert client.post("/form", data={"title": "t"}).status_code == 403
        token = client.get("/form").text
        assert client.post("/form", data={"title": "t", "csrf_token": "x" * 86}).status_code == 403
        saved = client.post("/form", data={"title": "t", "csrf_token": token})
        by_header = client.post("/form", data={"title": "h"}, headers={"x-csrf-token": token})
    assert saved.text == "saved t"
    assert by_header.text == "saved h"

"""Flash messages: left by one request, shown by the next (after a redirect), then gone."""

from __future__ import annotations

from typing import Any

import pytest

from kettle import Kettle, Request, Response, redirect
from kettle.flash import flash, get_flashed_messages
from kettle.sessions import install_sessions
from kettle.templating import render_template_string
from kettle.testing import TestClient

from .conftest import MakeApp

BACKENDS = ("cookie", "memory", "redis")

PAGE = (
    "<ul>{% for category, message in get_flashed_messages(with_categories=true) %}"
    '<li class="{{ category }}">{{ message }}</li>{% endfor %}</ul>'
)


def flash_app(make_app: MakeApp, backend: str, prefix: str) -> Kettle:
    app = make_app(SESSION_BACKEND=backend, SESSION_REDIS_PREFIX=prefix)

    @app.post("/save")
    async def save(req: Request) -> Response:
        form = await req.form()
        for text in form.getlist("message"):
            flash(req, str(text), str(form.get("category") or "message"))
        return redirect("/page", 303)

    @app.get("/page")
    def page(req: Request) -> str:  # a plain def: the template finds the request in its thread
        return render_template_string(PAGE)

    @app.get("/messages")
    async def messages(req: Request) -> dict[str, Any]:
        return {"messages": get_flashed_messages()}

    install_sessions(app)
    return app


@pytest.mark.parametrize("backend", BACKENDS)
def test_messages_survive_exactly_one_redirect(
    make_app: MakeApp, backend: str, redis_prefix: str
) -> None:
    with TestClient(flash_app(make_app, backend, redis_prefix), follow_redirects=True) as client:
        response = client.post("/save", data={"message": ["Saved.", "<b>bold</b>"]})
        assert [r.status_code for r in response.history] == [303]
        assert response.text == (
            '<ul><li class="message">Saved.</li>'
            '<li class="message">&lt;b&gt;bold&lt;/b&gt;</li></ul>'
        )
        # Taken: the next page shows none, and the session (flashes only) is gone.
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert client.get("/page").text == "<ul></ul>"
        assert client.get("/messages").json() == {"messages": []}


@pytest.mark.parametrize("backend", BACKENDS)
def test_messages_wait_until_a_page_reads_them(
    make_app: MakeApp, backend: str, redis_prefix: str
) -> None:
    with TestClient(flash_app(make_app, backend, redis_prefix)) as client:
        client.post("/save", data={"message": "one", "category": "info"})
        client.post("/save", data={"message": "two", "category": "error"})
        assert client.get("/page").text == (
            '<ul><li class="info">one</li><li class="error">two</li></ul>'
        )
        assert client.get("/messages").json() == {"messages": []}


def test_other_session_values_stay(make_app: MakeApp) -> None:
    app = make_app()

    @app.get("/login")
    async def login(req: Request) -> Response:
        req.session["uid"] = 7
        flash(req, "Welcome back.")
        return redirect("/")

    @app.get("/")
    async def index(req: Request) -> dict[str, Any]:
        return {"flashes": get_flashed_messages(req=req), "session": dict(req.session)}

    install_sessions(app)
    with TestClient(app, follow_redirects=True) as client:
        assert client.get("/login").json() == {"flashes": ["Welcome back."], "session": {"uid": 7}}
        assert client.get("/").json() == {"flashes": [], "session": {"uid": 7}}


@pytest.mark.parametrize("handler_kind", ["async", "sync"])
def test_categories_filters_and_repeated_calls(make_app: MakeApp, handler_kind: str) -> None:
    app = make_app()

    @app.get("/flash")
    async def leave(req: Request) -> str:
        flash(req, "plain")
        flash(req, "careful", "warning")
        flash(req, "broken", "error")
        return "ok"

    def show() -> dict[str, Any]:
        return {
            "all": get_flashed_messages(),
            "pairs": get_flashed_messages(with_categories=True),
            "errors": get_flashed_messages(category_filter="error"),
            "problems": get_flashed_messages(True, ["warning", "error"]),
            "none": get_flashed_messages(category_filter=["info"]),
        }

    if handler_kind == "async":

        @app.get("/show")
        async def show_async(req: Request) -> dict[str, Any]:
            return show()

    else:

        @app.get("/show")
        def show_sync(req: Request) -> dict[str, Any]:
            return show()

    install_sessions(app)
    with TestClient(app) as client:
        client.get("/flash")
        assert client.get("/show").json() == {
            "all": ["plain", "careful", "broken"],
            "pairs": [["message", "plain"], ["warning", "careful"], ["error", "broken"]],
            "errors": ["broken"],
            "problems": [["warning", "careful"], ["error", "broken"]],
            "none": [],
        }
        assert client.get("/show").json()["all"] == []


def test_no_messages_without_a_session_cookie(make_app: MakeApp) -> None:
    app = make_app()

    @app.get("/")
    async def index(req: Request) -> dict[str, Any]:
        return {"messages": get_flashed_messages()}

    install_sessions(app)
    with TestClient(app) as client:
        response = client.get("/")
        assert response.json() == {"messages": []}
        assert "set-cookie" not in response.headers
        assert response.headers["vary"] == "Cookie"


def test_outside_a_request_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="request"):
        get_flashed_messages()

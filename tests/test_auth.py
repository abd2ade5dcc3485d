"""Login, logout, req.user, remember-me and @login_required; mirrors kettle/auth.py."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from kettle import Kettle, Request, SetupError
from kettle.auth import (
    AnonymousUser,
    LoginManager,
    UserMixin,
    fresh_login_required,
    login_fresh,
    login_required,
    login_user,
    logout_user,
)
from kettle.redirects import safe_redirect
from kettle.responses import Response
from kettle.sessions import install_sessions
from kettle.testing import TestClient

from .conftest import MakeApp

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"accept": "application/json"}


class User(UserMixin):
    def __init__(self, id: int, name: str, active: bool = True) -> None:
        self.id = id
        self.name = name
        self.active = active

    @property
    def is_active(self) -> bool:
        return self.active


def make_users() -> dict[str, User]:
    return {"1": User(1, "ada"), "2": User(2, "bob"), "3": User(3, "eve", active=False)}


def build(
    make_app: MakeApp,
    *,
    loader: str = "sync",
    backend: str = "cookie",
    users: dict[str, User] | None = None,
    login_view: str | None = "login",
    **config: Any,
) -> Kettle:
    """An app with a tiny in-memory user store and the routes the tests need."""
    app = make_app(SESSION_BACKEND=backend, **config)
    if "sessions" not in app.extensions:
        install_sessions(app)
    store = make_users() if users is None else users
    manager = LoginManager(app, login_view=login_view)
    if loader == "async":

        @manager.user_loader
        async def load_async(user_id: str) -> User | None:
            return store.get(user_id)
    else:

        @manager.user_loader
        def load(user_id: str) -> User | None:
            return store.get(user_id)

    @app.get("/me")
    async def me(req: Request) -> dict[str, Any]:
        user = req.user
        return {"id": user.get_id(), "auth": user.is_authenticated, "fresh": login_fresh(req)}

    @app.get("/login")
    async def login(req: Request) -> str:
        return "the login page"

    @app.post("/login")
    async def do_login(req: Request) -> Response:
        form = await req.form()
        user = store.get(str(form.get("id", "")))
        remember = form.get("remember") == "on"
        if user is None or not login_user(req, user, remember=remember):
            return Response("refused", 403)
        return safe_redirect(req.query.get("next"), fallback="/me")

    @app.post("/logout")
    async def logout(req: Request) -> Response:
        logout_user(req)
        return safe_redirect(None, fallback="/me")

    @app.get("/visit")
    async def visit(req: Request) -> dict[str, Any]:
        req.session["seen"] = req.session.get("seen", 0) + 1
        return {"seen": req.session["seen"]}

    return app


def log_in(client: TestClient, user_id: str = "1", **extra: str) -> httpx.Response:
    response = client.post("/login", data={"id": user_id, **extra})
    assert response.status_code == 303, response.text
    return response


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie lines by cookie name."""
    lines = response.headers.get_list("set-cookie")
    return {line.partition("=")[0]: line for line in lines}


# -- logging in and out ----------------------------------------------------------------


@pytest.mark.parametrize("loader", ["sync", "async"])
def test_login_then_logout(make_app: MakeApp, loader: str) -> None:
    with TestClient(build(make_app, loader=loader)) as client:
        assert client.get("/me").json() == {"id": None, "auth": False, "fresh": False}
        response = log_in(client, "2")
        assert response.headers["location"] == "/me"
        assert client.get("/me").json() == {"id": "2", "auth": True, "fresh": True}
        assert client.get("/me").json()["id"] == "2"  # the login lasts: the session keeps it
        client.post("/logout")
        assert client.get("/me").json() == {"id": None, "auth": False, "fresh": False}


def test_logout_keeps_other_session_data(make_app: MakeApp) -> None:
    with TestClient(build(make_app)) as client:
        client.get("/visit")
        log_in(client)
        client.post("/logout")
        assert client.get("/visit").json() == {"seen": 2}
        assert client.get("/me").json()["auth"] is False


def test_an_inactive_user_is_refused_unless_forced(make_app: MakeApp) -> None:
    app = build(make_app)
    eve = make_users()["3"]

    @app.post("/force")
    async def force(req: Request) -> dict[str, bool]:
        return {"ok": login_user(req, eve, force=True)}

    with TestClient(app) as client:
        assert client.post("/login", data={"id": "3"}).status_code == 403
        assert client.get("/me").json()["auth"] is False
        assert client.post("/force").json() == {"ok": True}
        assert client.get("/me").json()["id"] == "3"


def test_a_user_deleted_since_login_is_anonymous(make_app: MakeApp) -> None:
    users = make_users()
    with TestClient(build(make_app, users=users)) as client:
        log_in(client, "2")
        del users["2"]
        assert client.get("/me").json()["auth"] is False


@pytest.mark.parametrize("backend", ["cookie", "memory", "redis"])
def test_login_issues_a_new_session_against_fixation(make_app: MakeApp, backend: str) -> None:
    # The attacker knows (or planted) the visitor's session cookie before the login.
    with TestClient(build(make_app, backend=backend)) as client:
        client.get("/visit")
        before = client.cookies["session"]
        log_in(client)
        after = client.cookies["session"]
        assert after != before
        assert client.get("/visit").json() == {"seen": 2}  # the data came along
        assert client.get("/me").json()["id"] == "1"
    with TestClient(build(make_app, backend=backend), cookies={"session": before}) as attacker:
        assert attacker.get("/me").json()["auth"] is False


def test_req_user_is_loaded_before_the_apps_own_middleware(make_app: MakeApp) -> None:
    app = make_app(SESSION_BACKEND="cookie")
    seen: list[Any] = []

    @app.before_request
    async def record(req: Request) -> None:
        seen.append(req.user.get_id())

    install_sessions(app)
    manager = LoginManager(app)  # registered after the hook, still runs before it
    manager.user_loader(make_users().get)

    @app.post("/login")
    async def do_login(req: Request) -> None:
        login_user(req, make_users()["1"])

    @app.get("/")
    async def index(req: Request) -> None:
        return None

    with TestClient(app) as client:
        client.post("/login")
        client.get("/")
    assert seen == [None, "1"]


def test_requests_without_cookies_do_not_open_the_session(make_app: MakeApp) -> None:
    # Reading the session adds "Vary: Cookie"; a cookie-less request, or one with only
    # unrelated cookies, must not pay for a session load.
    with TestClient(build(make_app)) as client:
        bare = client.get("/me")
        client.cookies["theme"] = "dark"
        other = client.get("/me")
        log_in(client)
        logged_in = client.get("/me")
    assert "vary" not in bare.headers and "set-cookie" not in bare.headers
    assert "vary" not in other.headers
    assert logged_in.headers["vary"] == "Cookie"


def test_setup_errors(make_app: MakeApp) -> None:
    app = make_app()
    LoginManager(app)
    with pytest.raises(SetupError, match="already has a LoginManager"):
        LoginManager(app)
    finalized = make_app()
    finalized.finalize()
    with pytest.raises(SetupError):
        LoginManager(finalized)


def test_anonymous_user() -> None:
    anonymous = AnonymousUser()
    assert (anonymous.is_authenticated, anonymous.is_active, anonymous.is_anonymous) == (
        False,
        False,
        True,
    )
    assert anonymous.get_id() is None
    with pytest.raises(NotImplementedError, match="get_id"):
        UserMixin().get_id()


# -- remember me -----------------------------------------------------------------------


def remember_cookie(make_app: MakeApp, **config: Any) -> str:
    with TestClient(build(make_app, **config)) as client:
        response = log_in(client, "2", remember="on")
        return response.cookies["remember_token"]


def test_remember_me_restores_the_login_in_a_new_browser(make_app: MakeApp) -> None:
    with TestClient(build(make_app)) as client:
        response = log_in(client, "2", remember="on")
    line = set_cookies(response)["remember_token"]
    assert "HttpOnly" in line and "SameSite=Lax" in line and "Path=/" in line
    assert f"Max-Age={365 * 24 * 3600}" in line
    assert "Secure" not in line  # plain http here; see the https test
    token = response.cookies["remember_token"]
    with TestClient(build(make_app), cookies={"remember_token": token}) as fresh_browser:
        restored = fresh_browser.get("/me")
        # Logged in, but not "fresh": the password was not typed in this session.
        assert restored.json() == {"id": "2", "auth": True, "fresh": False}
        assert "session" in set_cookies(restored)  # the login moves into a session
        del fresh_browser.cookies["remember_token"]
        assert fresh_browser.get("/me").json()["id"] == "2"


def test_remember_cookie_is_secure_on_https(make_app: MakeApp) -> None:
    with TestClient(build(make_app), base_url="https://testserver") as client:
        line = set_cookies(log_in(client, remember="on"))["remember_token"]
    assert "Secure" in line


def test_remember_duration_from_config_and_per_login(make_app: MakeApp) -> None:
    app = build(make_app, REMEMBER_COOKIE_DURATION=timedelta(days=7))

    @app.post("/short")
    async def short(req: Request) -> None:
        login_user(req, make_users()["1"], remember=True, duration=60)

    with TestClient(app) as client:
        assert "Max-Age=604800" in set_cookies(log_in(client, remember="on"))["remember_token"]
        assert "Max-Age=60;" in set_cookies(client.post("/short"))["remember_token"]


def test_logout_deletes_the_remember_cookie(make_app: MakeApp) -> None:
    with TestClient(build(make_app)) as client:
        log_in(client, remember="on")
        line = set_cookies(client.post("/logout"))["remember_token"]
        assert "Max-Age=0" in line
        assert "remember_token" not in client.cookies
        assert client.get("/me").json()["auth"] is False


def test_login_without_remember_drops_an_older_remember_cookie(make_app: MakeApp) -> None:
    with TestClient(build(make_app)) as client:
        log_in(client, "1", remember="on")
        log_in(client, "2")  # someone else, on the same browser, without "remember me"
        assert "remember_token" not in client.cookies


def _tampered(token: str) -> list[str]:
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    return [flipped, token[:-5], token + "x", "garbage", "", token.replace(".", "", 1)]


@pytest.mark.parametrize("case", range(6))
def test_a_tampered_remember_cookie_is_anonymous(make_app: MakeApp, case: int) -> None:
    bad = _tampered(remember_cookie(make_app))[case]
    with TestClient(build(make_app), cookies={"remember_token": bad}) as client:
        response = client.get("/me")
    assert response.status_code == 200
    assert response.json()["auth"] is False
    if bad:  # a bad cookie is deleted, so it is not checked again and again
        assert "Max-Age=0" in set_cookies(response)["remember_token"]


def test_a_remember_cookie_signed_with_another_key_is_anonymous(make_app: MakeApp) -> None:
    token = remember_cookie(make_app, SECRET_KEY="another-secret-" + "y" * 32)
    with TestClient(build(make_app), cookies={"remember_token": token}) as client:
        assert client.get("/me").json()["auth"] is False


def test_a_remember_cookie_signed_with_an_older_key_still_works(make_app: MakeApp) -> None:
    old = "old-secret-" + "z" * 32
    token = remember_cookie(make_app, SECRET_KEY=old)
    app = build(make_app, SECRET_KEY_FALLBACKS=[old])
    with TestClient(app, cookies={"remember_token": token}) as client:
        assert client.get("/me").json()["id"] == "2"


def test_an_expired_remember_cookie_is_anonymous(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = remember_cookie(make_app, REMEMBER_COOKIE_DURATION=3600)
    with TestClient(build(make_app), cookies={"remember_token": token}) as client:
        assert client.get("/me").json()["auth"] is True
    later = time.time() + 3601

    class Clock:
        @staticmethod
        def time() -> float:
            return later

    # The cookie is validly signed; only its signed lifetime has passed.
    monkeypatch.setattr("kettle._remember.time", Clock)
    with TestClient(build(make_app), cookies={"remember_token": token}) as client:
        assert client.get("/me").json()["auth"] is False


def test_a_remember_cookie_of_a_deleted_user_is_anonymous(make_app: MakeApp) -> None:
    token = remember_cookie(make_app)
    users = make_users()
    del users["2"]
    with TestClient(build(make_app, users=users), cookies={"remember_token": token}) as client:
        response = client.get("/me")
    assert response.json()["auth"] is False
    assert "Max-Age=0" in set_cookies(response)["remember_token"]


@pytest.mark.parametrize("value", ["soon", 0, True])
def test_a_bad_remember_duration_is_a_config_error(make_app: MakeApp, value: object) -> None:
    app = build(make_app, REMEMBER_COOKIE_DURATION=value)
    with pytest.raises(RuntimeError, match="REMEMBER_COOKIE_DURATION"), TestClient(app):
        pass  # the server does not start


# -- login_required --------------------------------------------------------------------


def protected(make_app: MakeApp, **options: Any) -> Kettle:
    app = build(make_app, **options)

    @app.route("/private", methods=["GET", "POST"])
    @login_required
    async def private(req: Request) -> dict[str, Any]:
        return {"user": req.user.name}

    @app.get("/private-sync")
    @login_required
    def private_sync(req: Request) -> dict[str, Any]:
        return {"user": req.user.name}

    @app.get("/items/<int:item_id>/<slug>")
    @login_required
    async def item(req: Request, item_id: int, slug: str) -> dict[str, Any]:
        return {"item_id": item_id, "slug": slug}

    @app.get("/bare")
    @login_required
    def bare() -> str:
        return "no request parameter"

    @app.get("/settings")
    @fresh_login_required
    async def settings(req: Request) -> str:
        return "settings"

    return app


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/private", {"user": "ada"}),
        ("/private-sync", {"user": "ada"}),
        ("/items/7/seven", {"item_id": 7, "slug": "seven"}),
        ("/bare", "no request parameter"),
    ],
)
def test_login_required_lets_users_in(make_app: MakeApp, path: str, body: Any) -> None:
    with TestClient(protected(make_app)) as client:
        log_in(client)
        response = client.get(path)
    assert response.status_code == 200
    assert (response.json() if isinstance(body, dict) else response.text) == body


@pytest.mark.parametrize(
    ("path", "next_"),
    [
        ("/private", "%2Fprivate"),
        ("/private?tab=a&x=%2F", "%2Fprivate%3Ftab%3Da%26x%3D%252F"),
        ("/private-sync", "%2Fprivate-sync"),
        ("/items/7/seven", "%2Fitems%2F7%2Fseven"),
        ("/bare", "%2Fbare"),
    ],
)
def test_login_required_sends_browsers_to_the_login_view(
    make_app: MakeApp, path: str, next_: str
) -> None:
    with TestClient(protected(make_app)) as client:
        response = client.get(path, headers=BROWSER)
        assert response.status_code == 302
        assert response.headers["location"] == f"/login?next={next_}"
        # The round trip: log in with that next, land where we wanted to go.
        target = httpx.URL(response.headers["location"]).params["next"]
        landed = client.post("/login", params={"next": target}, data={"id": "1"})
        assert landed.headers["location"] == target
        assert client.get(target).status_code == 200


@pytest.mark.parametrize("path", ["/private", "/private-sync", "/items/7/seven", "/bare"])
@pytest.mark.parametrize("accept", [JSON, {"accept": "*/*"}, {}])
def test_login_required_answers_api_clients_401(
    make_app: MakeApp, path: str, accept: dict[str, str]
) -> None:
    with TestClient(protected(make_app)) as client:
        response = client.get(path, headers=accept)
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401


def test_login_required_after_a_post_redirects_with_303_and_no_next(make_app: MakeApp) -> None:
    with TestClient(protected(make_app)) as client:
        response = client.post("/private", headers=BROWSER)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_without_a_login_view_browsers_get_401(make_app: MakeApp) -> None:
    with TestClient(protected(make_app, login_view=None)) as client:
        response = client.get("/private", headers=BROWSER)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")


def test_a_login_view_given_as_a_path(make_app: MakeApp) -> None:
    with TestClient(protected(make_app, login_view="/account/login?src=x")) as client:
        response = client.get("/private", headers=BROWSER)
    assert response.headers["location"] == "/account/login?src=x&next=%2Fprivate"


def test_login_required_under_a_root_path(make_app: MakeApp) -> None:
    with TestClient(protected(make_app), root_path="/app") as client:
        response = client.get("/private", headers=BROWSER)  # served as /app/private
    assert response.headers["location"] == "/app/login?next=%2Fapp%2Fprivate"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_unauthorized_handler_answers_instead(make_app: MakeApp, kind: str) -> None:
    app = protected(make_app)
    manager: LoginManager = app.extensions["login"]
    if kind == "async":

        @manager.unauthorized_handler
        async def deny_async(req: Request) -> tuple[dict[str, str], int]:
            return {"why": f"{req.path} needs a login"}, 403
    else:

        @manager.unauthorized_handler
        def deny(req: Request) -> tuple[dict[str, str], int]:
            return {"why": f"{req.path} needs a login"}, 403

    with TestClient(app) as client:
        for path in ("/private", "/private-sync"):
            response = client.get(path, headers=BROWSER)
            assert (response.status_code, response.json()) == (
                403,
                {"why": f"{path} needs a login"},
            )


def test_the_route_keeps_its_name_and_signature(make_app: MakeApp) -> None:
    app = protected(make_app)
    # The call plan is read through the wrapper: a parameter nothing supplies is still
    # reported at registration.
    with pytest.raises(SetupError, match="nothing supplies"):

        @app.get("/broken")
        @login_required
        async def broken(req: Request, missing: int) -> None: ...

    routes = {info.path: info for info in app.iter_routes()}
    assert routes["/items/<int:item_id>/<slug>"].name == "item"
    assert app.url_for("item", item_id=3, slug="x") == "/items/3/x"


def test_fresh_login_required(make_app: MakeApp) -> None:
    token = remember_cookie(make_app)
    with TestClient(protected(make_app), cookies={"remember_token": token}) as client:
        stale = client.get("/settings", headers=BROWSER)
        assert (stale.status_code, stale.headers["location"]) == (
            302,
            "/login?next=%2Fsettings",
        )
        assert client.get("/private").status_code == 200  # not fresh, still logged in
        log_in(client, "2")
        assert client.get("/settings").text == "settings"


def test_login_required_without_a_login_manager_is_a_setup_error(make_app: MakeApp) -> None:
    app = make_app()

    @app.get("/")
    @login_required
    async def index(req: Request) -> str:
        return "never"

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/").status_code == 500


# -- the next parameter at login (SECURITY.md 45, issue 3 "Bad input") --------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https:evil.example",
        "/\\evil.example",
        "\t//evil.example",
        "javascript:alert(1)",
        "https://testserver@evil.example",
        "http://evil.example/",
    ],
)
def test_a_next_pointing_elsewhere_is_ignored(make_app: MakeApp, target: str) -> None:
    with TestClient(build(make_app)) as client:
        response = client.post("/login", params={"next": target}, data={"id": "1"})
    assert response.status_code == 303
    assert response.headers["location"] == "/me"


def test_static_files_never_load_the_user(make_app: MakeApp, tmp_path: Path) -> None:
    (tmp_path / "style.css").write_text("body {}")
    loads: list[str] = []
    store = make_users()

    class CountingStore(dict[str, User]):
        def get(self, key: str, default: Any = None) -> Any:
            loads.append(key)
            return store.get(key, default)

    app = build(make_app, users=CountingStore(store))
    app.static("/assets", tmp_path, name="assets")
    with TestClient(app) as client:
        log_in(client)
        loads.clear()
        assert client.get("/assets/style.css").text == "body {}"
        assert loads == []
        assert client.get("/me").json()["id"] == "1"
        assert loads == ["1"]

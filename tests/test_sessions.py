"""Sessions through an app and the TestClient: every backend, bad cookies, keys, expiry."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from kettle import ConfigError, Kettle, Request, Response, SetupError, abort
from kettle.session_stores import MemorySessionInterface, RedisSessionInterface
from kettle.sessions import DEFAULT_LIFETIME, Session, SessionInterface, install_sessions
from kettle.testing import TestClient

from .conftest import REDIS_URL, SECRET, MakeApp, redis_keys

BACKENDS = ("cookie", "memory", "redis")
SERVER_SIDE = ("memory", "redis")
OLD_KEY = "an-older-secret-key-" + "y" * 24
LIFETIME = 3600

SessionApp = Callable[..., Kettle]


@pytest.fixture
def session_app(make_app: MakeApp, redis_prefix: str) -> SessionApp:
    """An app with sessions installed and routes that read and change them."""

    def factory(backend: str = "cookie", **config: Any) -> Kettle:
        app = make_app(
            SESSION_BACKEND=backend,
            SESSION_REDIS_PREFIX=redis_prefix,
            PERMANENT_SESSION_LIFETIME=LIFETIME,
            **config,
        )

        @app.get("/read")
        async def read(req: Request) -> dict[str, Any]:
            session: Session = req.session
            return {"data": dict(session), "new": session.new, "permanent": session.permanent}

        @app.get("/set")
        def set_value(req: Request) -> str:  # a plain def: the session is opened in a thread
            for key, value in req.query.items():
                req.session[key] = value
            return "set"

        @app.get("/permanent")
        async def permanent(req: Request) -> str:
            req.session.permanent = True
            req.session["kept"] = "yes"
            return "permanent"

        @app.get("/clear")
        async def clear(req: Request) -> str:
            req.session.clear()
            return "cleared"

        @app.get("/regenerate")
        async def regenerate(req: Request) -> str:
            req.session.regenerate()
            return "regenerated"

        @app.get("/cart/<item>")
        async def add_to_cart(req: Request, item: str) -> str:
            cart = req.session.setdefault("cart", [])
            cart.append(item)  # an in-place change the session cannot see ...
            if req.query.get("mark"):
                req.session.modified = True  # ... unless told
            return "added"

        @app.get("/untouched")
        async def untouched(req: Request) -> str:
            return "no session here"

        @app.get("/vary")
        async def vary(req: Request) -> Response:
            req.session.get("anything")
            return Response("x", headers={"vary": "Accept-Encoding"})

        @app.get("/big")
        async def big(req: Request) -> str:
            # Random, so that compression cannot shrink it under the limit.
            req.session["blob"] = secrets.token_urlsafe(4000)
            return "big"

        @app.get("/set-then-fail")
        async def set_then_fail(req: Request) -> str:
            req.session["before_error"] = True
            abort(403)

        install_sessions(app)
        return app

    return factory


def session_cookie(response: httpx.Response, name: str = "session") -> str | None:
    """The ``Set-Cookie`` line for ``name`` in ``response``, or ``None``."""
    lines = [line for line in response.headers.get_list("set-cookie") if line.startswith(name)]
    assert len(lines) <= 1, lines
    return lines[0] if lines else None


def cookie_value(response: httpx.Response) -> str:
    line = session_cookie(response)
    assert line is not None, "no session cookie was set"
    return line.split(";", 1)[0].split("=", 1)[1]


def read(client: TestClient, cookie: str | None = None) -> dict[str, Any]:
    """``/read`` with the client's cookies, or with exactly ``cookie`` as the session."""
    if cookie is None:
        response = client.get("/read")
    else:
        client.cookies.clear()
        response = client.get("/read", headers={"cookie": f"session={cookie}"})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def resign(value: str, key: str, salt: str, age: int = 0) -> str:
    """``value``'s payload signed again with ``key``, as if ``age`` seconds ago."""
    payload = value.rsplit(".", 2)[0]

    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    return Signer(key, salt=salt).sign(payload).decode()


# --- the basics, on every backend ------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_survive_across_requests(session_app: SessionApp, backend: str) -> None:
    with TestClient(session_app(backend)) as client:
        assert read(client) == {"data": {}, "new": True, "permanent": False}
        response = client.get("/set", params={"name": "Ada", "lang": "en"})
        line = session_cookie(response)
        assert line is not None
        # A browser-session cookie with the safe flags, and no Secure over plain http.
        attributes = line.split("; ")[1:]
        assert sorted(attributes) == ["HttpOnly", "Path=/", "SameSite=Lax"]
        assert read(client) == {
            "data": {"name": "Ada", "lang": "en"},
            "new": False,
            "permanent": False,
        }
        client.get("/set", params={"name": "Grace"})
        assert read(client)["data"] == {"name": "Grace", "lang": "en"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_requests_that_do_not_use_the_session_get_no_cookie_and_no_vary(
    session_app: SessionApp, backend: str
) -> None:
    with TestClient(session_app(backend)) as client:
        client.get("/set", params={"a": "1"})
        response = client.get("/untouched")
        assert session_cookie(response) is None
        assert "vary" not in response.headers


@pytest.mark.parametrize("backend", BACKENDS)
def test_reading_the_session_adds_vary_cookie_without_resending_it(
    session_app: SessionApp, backend: str
) -> None:
    with TestClient(session_app(backend)) as client:
        first = client.get("/set", params={"a": "1"})
        assert first.headers["vary"] == "Cookie"
        response = client.get("/read")
        assert response.headers["vary"] == "Cookie"
        assert session_cookie(response) is None  # unchanged and not permanent
        # Even a visitor without a session gets Vary: the page was built from the cookie.
        client.cookies.clear()
        assert client.get("/read").headers["vary"] == "Cookie"


@pytest.mark.parametrize("backend", BACKENDS)
def test_vary_cookie_joins_an_existing_vary(session_app: SessionApp, backend: str) -> None:
    with TestClient(session_app(backend)) as client:
        assert client.get("/vary").headers.get_list("vary") == ["Accept-Encoding, Cookie"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_secure_cookie_over_https(session_app: SessionApp, backend: str) -> None:
    with TestClient(session_app(backend), base_url="https://testserver") as client:
        line = session_cookie(client.get("/set", params={"a": "1"}))
        assert line is not None and "; Secure" in line
        assert read(client)["data"] == {"a": "1"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_emptying_the_session_deletes_the_cookie(session_app: SessionApp, backend: str) -> None:
    with TestClient(session_app(backend)) as client:
        value = cookie_value(client.get("/set", params={"a": "1"}))
        line = session_cookie(client.get("/clear"))
        assert line is not None and "Max-Age=0" in line
        assert read(client) == {"data": {}, "new": True, "permanent": False}
        if backend in SERVER_SIDE:
            # The record went with it: the old cookie leads nowhere.
            assert read(client, value)["data"] == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_changes_need_modified(session_app: SessionApp, backend: str) -> None:
    with TestClient(session_app(backend)) as client:
        client.get("/cart/tea")  # setdefault created the list: saved
        client.get("/cart/milk")  # appended in place only: not saved
        assert read(client)["data"] == {"cart": ["tea"]}
        client.get("/cart/sugar", params={"mark": "1"})
        assert read(client)["data"] == {"cart": ["tea", "sugar"]}


@pytest.mark.parametrize("backend", BACKENDS)
def test_permanent_sessions_get_max_age_and_are_refreshed(
    session_app: SessionApp, backend: str
) -> None:
    with TestClient(session_app(backend)) as client:
        line = session_cookie(client.get("/permanent"))
        assert line is not None and f"Max-Age={LIFETIME}" in line
        assert read(client) == {"data": {"kept": "yes"}, "new": False, "permanent": True}
        # Read without a change: the cookie is sent again, so it lasts from the last visit.
        refreshed = session_cookie(client.get("/read"))
        assert refreshed is not None and f"Max-Age={LIFETIME}" in refreshed


@pytest.mark.parametrize("backend", BACKENDS)
def test_permanent_sessions_without_refresh(session_app: SessionApp, backend: str) -> None:
    app = session_app(backend, SESSION_REFRESH_EACH_REQUEST=False)
    with TestClient(app) as client:
        client.get("/permanent")
        response = client.get("/read")
        assert response.json()["permanent"] is True
        assert session_cookie(response) is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_regenerate_issues_a_new_cookie_and_keeps_the_data(
    session_app: SessionApp, backend: str, redis_prefix: str
) -> None:
    with TestClient(session_app(backend)) as client:
        old = cookie_value(client.get("/set", params={"uid": "7"}))
        new = cookie_value(client.get("/regenerate"))
        assert read(client, new)["data"] == {"uid": "7"}
        if backend in SERVER_SIDE:
            assert new != old
            # The old id is worthless: its record is gone.
            assert read(client, old) == {"data": {}, "new": True, "permanent": False}
        if backend == "redis":
            assert len(redis_keys(redis_prefix)) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_session_is_saved_with_error_responses(session_app: SessionApp, backend: str) -> None:
    with TestClient(session_app(backend)) as client:
        assert client.get("/set-then-fail").status_code == 403
        assert read(client)["data"] == {"before_error": True}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_nameless_cookie_piece_cannot_shadow_the_session(
    session_app: SessionApp, backend: str
) -> None:
    # SECURITY.md case 26: "=session=evil; session=ok" must read "ok".
    with TestClient(session_app(backend)) as client:
        good = cookie_value(client.get("/set", params={"a": "1"}))
        client.cookies.clear()
        response = client.get("/read", headers={"cookie": f"=session=evil; session={good}"})
        assert response.json()["data"] == {"a": "1"}


# --- bad cookies: an empty session, never an error (SECURITY.md 27) --------------------------


def _flip(value: str, index: int) -> str:
    char = value[index]
    return value[:index] + ("A" if char != "A" else "B") + value[index + 1 :]


BAD_COOKIES: dict[str, Callable[[str, str], str]] = {
    "bit flipped in the payload": lambda good, salt: _flip(good, 3),
    "bit flipped in the signature": lambda good, salt: _flip(good, len(good) - 2),
    "truncated signature": lambda good, salt: good[:-4],
    "truncated to half": lambda good, salt: good[: len(good) // 2],
    "payload only": lambda good, salt: good.rsplit(".", 2)[0],
    "garbage": lambda good, salt: "not-a-session",
    "dots": lambda good, salt: "...",
    "compressed garbage": lambda good, salt: ".eJzLSM3JyQcABiwCFQ.AAAA.BBBB",
    "8 KB": lambda good, salt: "A" * 8192,
    "8 KB after a valid cookie": lambda good, salt: good + "A" * 8192,
    "another key": lambda good, salt: resign(good, "some-other-key-" + "z" * 20, salt),
    "another salt": lambda good, salt: resign(good, SECRET, salt + ".other"),
    "signed, but not a session": lambda good, salt: URLSafeTimedSerializer(SECRET, salt=salt).dumps(
        {"not": "a session"}
    ),
    "signed in the future": lambda good, salt: resign(good, SECRET, salt, age=-3600),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", BAD_COOKIES)
def test_bad_cookies_give_an_empty_session(
    session_app: SessionApp, backend: str, kind: str
) -> None:
    app = session_app(backend)
    with TestClient(app) as client:
        good = cookie_value(client.get("/set", params={"secret": "s"}))
        bad = BAD_COOKIES[kind](good, app.extensions["sessions"].salt)
        assert bad != good
        assert read(client, bad) == {"data": {}, "new": True, "permanent": False}
        # And the app still answers normally afterwards.
        assert read(client, good)["data"] == {"secret": "s"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_validly_signed_cookie_past_its_max_age_is_refused(
    session_app: SessionApp, backend: str
) -> None:
    # SECURITY.md case 28: the signature is fine, the age is not.
    app = session_app(backend)
    salt = app.extensions["sessions"].salt
    with TestClient(app) as client:
        good = cookie_value(client.get("/set", params={"a": "1"}))
        recent = resign(good, SECRET, salt, age=LIFETIME - 60)
        assert read(client, recent)["data"] == {"a": "1"}
        expired = resign(good, SECRET, salt, age=LIFETIME + 60)
        assert read(client, expired) == {"data": {}, "new": True, "permanent": False}


@pytest.mark.parametrize("backend", BACKENDS)
def test_older_keys_verify_and_the_cookie_is_resigned_with_the_newest(
    session_app: SessionApp, backend: str
) -> None:
    # SECURITY.md case 29.
    app = session_app(backend, SECRET_KEY_FALLBACKS=[OLD_KEY])
    salt = app.extensions["sessions"].salt
    with TestClient(app) as client:
        good = cookie_value(client.get("/set", params={"a": "1"}))
        # What a cookie issued before the rotation looks like: the same payload, old key.
        before_rotation = resign(good, OLD_KEY, salt)
        client.cookies.clear()
        response = client.get("/read", headers={"cookie": f"session={before_rotation}"})
        assert response.json()["data"] == {"a": "1"}
        resigned = cookie_value(response)
        TimestampSigner(SECRET, salt=salt).unsign(resigned)
        with pytest.raises(BadSignature):
            TimestampSigner(OLD_KEY, salt=salt).unsign(resigned)
        # A cookie from the old key, past its max-age, is refused like any other.
        stale = resign(good, OLD_KEY, salt, age=LIFETIME + 60)
        assert read(client, stale)["data"] == {}


# --- cookie size, values, settings -------------------------------------------------------------


def test_a_cookie_over_4kb_logs_a_warning(
    session_app: SessionApp, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(session_app("cookie")) as client, caplog.at_level(logging.WARNING):
        client.get("/big")
    assert any(
        record.name == "kettle.sessions" and "browsers" in record.getMessage()
        for record in caplog.records
    )


@pytest.mark.parametrize("backend", SERVER_SIDE)
def test_server_side_stores_keep_big_sessions_out_of_the_cookie(
    session_app: SessionApp, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(session_app(backend)) as client, caplog.at_level(logging.WARNING):
        assert len(cookie_value(client.get("/big"))) < 200
        assert len(read(client)["data"]["blob"]) > 5000
    assert not [r for r in caplog.records if r.name == "kettle.sessions"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_that_are_not_json_are_an_error(make_app: MakeApp, backend: str) -> None:
    app = make_app(SESSION_BACKEND=backend, SESSION_REDIS_PREFIX="kettle:test:unused:")

    @app.get("/")
    async def store_object(req: Request) -> str:
        req.session["thing"] = object()
        return "x"

    install_sessions(app)
    with TestClient(app) as client, pytest.raises(TypeError, match="JSON"):
        client.get("/")


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"SESSION_COOKIE_NAME": "sid"}, ["sid=", "HttpOnly", "Path=/", "SameSite=Lax"]),
        (
            {"SESSION_COOKIE_SAMESITE": "strict"},
            ["session=", "HttpOnly", "Path=/", "SameSite=Strict"],
        ),
        ({"SESSION_COOKIE_SAMESITE": None}, ["session=", "HttpOnly", "Path=/"]),
        (
            {"SESSION_COOKIE_SAMESITE": "none"},
            ["session=", "HttpOnly", "Path=/", "SameSite=None", "Secure"],
        ),
        (
            {"SESSION_COOKIE_SECURE": True},
            ["session=", "HttpOnly", "Path=/", "SameSite=Lax", "Secure"],
        ),
        ({"SESSION_COOKIE_HTTPONLY": False}, ["session=", "Path=/", "SameSite=Lax"]),
        ({"SESSION_COOKIE_PATH": "/app"}, ["session=", "HttpOnly", "Path=/app", "SameSite=Lax"]),
        (
            {"SESSION_COOKIE_DOMAIN": "example.com"},
            ["session=", "Domain=example.com", "HttpOnly", "Path=/", "SameSite=Lax"],
        ),
    ],
)
def test_cookie_settings(make_app: MakeApp, config: dict[str, Any], expected: list[str]) -> None:
    app = make_app(**config)

    @app.get("/")
    async def index(req: Request) -> str:
        req.session["a"] = 1
        return "x"

    install_sessions(app)
    with TestClient(app) as client:
        line = client.get("/").headers["set-cookie"]
    name_value, *attributes = line.split("; ")
    assert sorted([name_value.split("=", 1)[0] + "=", *attributes]) == sorted(expected)


def test_secure_false_stays_off_over_https(make_app: MakeApp) -> None:
    app = make_app(SESSION_COOKIE_SECURE=False)

    @app.get("/")
    async def index(req: Request) -> str:
        req.session["a"] = 1
        return "x"

    install_sessions(app)
    with TestClient(app, base_url="https://testserver") as client:
        assert "Secure" not in client.get("/").headers["set-cookie"]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(timedelta(days=2), 172800), (90, 90), ("120", 120), (None, DEFAULT_LIFETIME)],
)
def test_lifetime_spellings(make_app: MakeApp, value: Any, seconds: int) -> None:
    app = make_app(**({} if value is None else {"PERMANENT_SESSION_LIFETIME": value}))
    install_sessions(app)
    assert app.extensions["sessions"].lifetime == seconds
    assert DEFAULT_LIFETIME == 31 * 24 * 3600


@pytest.mark.parametrize(
    "config",
    [
        {"SESSION_BACKEND": "files"},
        {"PERMANENT_SESSION_LIFETIME": 0},
        {"PERMANENT_SESSION_LIFETIME": "a month"},
        {"SECRET_KEY_FALLBACKS": "one-key-not-a-list"},
        {"SECRET_KEY_FALLBACKS": [""]},
        {"SESSION_COOKIE_SAMESITE": "sometimes"},
        {"SESSION_COOKIE_NAME": ""},
        {"SESSION_COOKIE_SECURE": "maybe"},
    ],
)
def test_bad_settings_are_config_errors(make_app: MakeApp, config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        install_sessions(make_app(**config))


def test_no_secret_key_in_production_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        install_sessions(Kettle(__name__))


# --- installing -------------------------------------------------------------------------------


def test_backend_none_turns_sessions_off(make_app: MakeApp) -> None:
    app = make_app(SESSION_BACKEND="none")

    @app.get("/")
    async def index(req: Request) -> str:
        return str(req.session)

    install_sessions(app)
    assert "sessions" not in app.extensions
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/").status_code == 500


def test_install_is_idempotent_and_an_own_interface_wins(make_app: MakeApp) -> None:
    app = make_app()
    own = MemorySessionInterface(app)
    install_sessions(app, own)
    install_sessions(app)  # what finalize does: sessions are there, nothing changes
    assert app.extensions["sessions"] is own
    with pytest.raises(SetupError):
        install_sessions(app, MemorySessionInterface(app))


def test_a_custom_interface(make_app: MakeApp) -> None:
    class Everyone(SessionInterface):
        """Everyone shares one session (a toy)."""

        def __init__(self, app: Kettle) -> None:
            super().__init__(app)
            self.shared = Session()
            self.saves = 0

        def open(self, req: Request) -> Session:
            return self.shared

        async def save(self, req: Request, response: Response) -> None:
            self.saves += 1

    app = make_app()

    @app.get("/")
    async def index(req: Request) -> str:
        req.session["n"] = req.session.get("n", 0) + 1
        return str(req.session["n"])

    interface = Everyone(app)
    install_sessions(app, interface)
    with TestClient(app) as first, TestClient(app) as second:
        assert first.get("/").text == "1"
        assert second.get("/").text == "2"
    assert interface.saves == 2


# --- the session object ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "modified"),
    [
        (lambda s: s.__setitem__("b", 2), True),
        (lambda s: s.__delitem__("a"), True),
        (lambda s: s.pop("a"), True),
        (lambda s: s.pop("missing", None), False),
        (lambda s: s.popitem(), True),
        (lambda s: s.setdefault("a", 5), False),
        (lambda s: s.setdefault("new", 5), True),
        (lambda s: s.update(b=2), True),
        (lambda s: s.__ior__({"b": 2}), True),
        (lambda s: s.clear(), True),
        (lambda s: s.get("a"), False),
        (lambda s: "a" in s, False),
        (lambda s: list(s.items()), False),
        (lambda s: setattr(s, "permanent", False), False),
        (lambda s: setattr(s, "permanent", True), True),
        (lambda s: s.regenerate(), True),
    ],
)
def test_session_knows_when_it_changed(change: Callable[[Session], Any], modified: bool) -> None:
    session = Session({"a": 1}, new=False)
    assert session.modified is False
    change(session)
    assert session.modified is modified


def test_session_pop_of_a_missing_key_without_default() -> None:
    with pytest.raises(KeyError):
        Session().pop("nope")


# --- the stores --------------------------------------------------------------------------------


def test_memory_records_expire(make_app: MakeApp) -> None:
    now = [1000.0]
    app = make_app(PERMANENT_SESSION_LIFETIME=LIFETIME)

    @app.get("/set")
    async def set_value(req: Request) -> str:
        req.session["a"] = "1"
        return "x"

    @app.get("/read")
    async def read_value(req: Request) -> dict[str, Any]:
        return dict(req.session)

    store = MemorySessionInterface(app, clock=lambda: now[0])
    store.sweep_every = 2
    install_sessions(app, store)
    with TestClient(app) as client:
        client.get("/set")
        now[0] += LIFETIME - 1
        assert client.get("/read").json() == {"a": "1"}
        now[0] += 2
        assert client.get("/read").json() == {}
        assert len(store) == 1  # expired but not yet swept
        client.cookies.clear()
        client.get("/set")  # the second write sweeps
        assert len(store) == 1


def test_redis_records_have_the_lifetime_as_ttl(session_app: SessionApp, redis_prefix: str) -> None:
    with TestClient(session_app("redis")) as client:
        client.get("/set", params={"a": "1"})
        (key,) = redis_keys(redis_prefix)
        with redis.Redis.from_url(REDIS_URL) as direct:
            assert 0 < direct.ttl(key) <= LIFETIME
        client.get("/clear")
    assert redis_keys(redis_prefix) == []


def test_redis_is_only_asked_for_requests_with_a_session_cookie(make_app: MakeApp) -> None:
    # Nothing listens on this port: a request that reached Redis would fail.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = make_app(SESSION_BACKEND="redis", SESSION_REDIS_URL=f"redis://127.0.0.1:{port}/0")

    @app.get("/")
    async def index(req: Request) -> dict[str, Any]:
        return {"session": dict(req.session)}

    install_sessions(app)
    signed = URLSafeTimedSerializer(SECRET, salt=app.extensions["sessions"].salt).dumps("an-id")
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/").json() == {"session": {}}
        assert client.get("/", headers={"cookie": "other=1"}).status_code == 200
        assert client.get("/", headers={"cookie": "session=forged"}).status_code == 200
        # A validly signed id is looked up, and a store that is down is an error.
        assert client.get("/", headers={"cookie": f"session={signed}"}).status_code == 500


def test_redis_sessions_are_loaded_before_other_middleware(
    make_app: MakeApp, redis_prefix: str
) -> None:
    app = make_app(SESSION_BACKEND="redis", SESSION_REDIS_PREFIX=redis_prefix)
    seen: list[Any] = []

    @app.use
    async def peek(req: Request, call_next: Callable[[Request], Any]) -> Response:
        seen.append(req.session.get("who"))
        response: Response = await call_next(req)
        return response

    @app.get("/login")
    async def login(req: Request) -> str:
        req.session["who"] = "ada"
        return "x"

    install_sessions(app)
    assert isinstance(app.extensions["sessions"], RedisSessionInterface)
    with TestClient(app) as client:
        client.get("/login")
        client.get("/login")
    assert seen == [None, "ada"]

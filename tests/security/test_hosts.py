"""Host validation and TRUSTED_HOSTS; mirrors kettle/security/hosts.py (hostile case 39).

HTTP clients normalise or refuse a malformed ``Host``, so these requests are raw ASGI
scopes. ``tests/conftest.py``'s ``call_raw`` always sends ``Host: testserver`` first (the
adapter reads the first), hence :func:`asgi_call`, which the proxy and body-timeout tests
share: it sets the host, the peer address and the ``receive`` callable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import msgspec
import pytest

from kettle import ConfigError, HTTPError, Kettle, Request, Router
from kettle.testing import TestClient
from tests.conftest import MakeApp

Receive = Callable[[], Awaitable[dict[str, Any]]]


class Answer(NamedTuple):
    """What the app sent: the status, the headers (lower-case names, in order), the body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of ``name``, or ``None``."""
        return next((value for key, value in self.headers if key == name), None)

    def json(self) -> Any:
        """The body decoded as JSON."""
        return msgspec.json.decode(self.body)


async def asgi_call(
    app: Any,
    path: str = "/",
    *,
    method: str = "GET",
    host: bytes | None = b"testserver",
    headers: Sequence[tuple[bytes, bytes]] = (),
    client: tuple[str, int] | None = ("127.0.0.1", 40000),
    scheme: str = "http",
    body: bytes = b"",
    receive: Receive | None = None,
) -> Answer:
    """Send one request to ``app`` as a raw ASGI scope; ``host=None`` sends no ``Host``."""
    messages: list[dict[str, Any]] = []
    sent = False

    async def whole_body() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # a client that keeps the connection open
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [*([(b"host", host)] if host is not None else []), *headers],
        "client": client,
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive or whole_body, send)
    start = messages[0]
    pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
    return Answer(start["status"], pairs, b"".join(m.get("body", b"") for m in messages[1:]))


def serve(app: Any, host: bytes | None, path: str = "/", **options: Any) -> Answer:
    """:func:`asgi_call` run to completion from sync test code."""
    return asyncio.run(asgi_call(app, path, host=host, **options))


def hosted(make_app: MakeApp, **config: Any) -> Kettle:
    app = make_app(**config)

    @app.route("/", methods=["GET", "POST"])
    async def home(req: Request) -> dict[str, str]:
        return {"host": req.host, "url": str(req.url)}

    @app.get("/users/<int:id>")
    async def user(req: Request, id: int) -> str:
        return f"user {id}"

    shop = Router()

    @shop.get("/cart")
    async def cart(req: Request) -> str:
        return "cart"

    app.mount("/shop", shop)

    async def foreign(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"foreign"})

    app.mount("/foreign", foreign)
    return app


BAD_HOSTS = [
    b"a@b",
    b"user@example.com",
    b"",
    b"x:99999",
    b"x:0",
    b"x:",
    b"ex ample",
    b"a/b",
    b"a,b",
    b"a;b",
    b"..",
    b"example..com",
    b"-example.com",
    b"[::1",
    b"example.com:80:80",
    b"a" * 300,
    b"\xffexample.com",
]
PATHS = ["/", "/users/7", "/shop/cart", "/foreign/x", "/nowhere"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("host", BAD_HOSTS)
def test_a_malformed_host_is_refused_everywhere(make_app: MakeApp, host: bytes, path: str) -> None:
    answer = serve(hosted(make_app), host, path)
    assert answer.status == 400
    assert answer.json()["error"]["detail"] == "invalid Host header"
    assert answer.header("x-content-type-options") == "nosniff"


GOOD_HOSTS = [
    b"example.com",
    b"EXAMPLE.com",
    b"localhost",
    b"localhost:8000",
    b"127.0.0.1",
    b"127.0.0.1:65535",
    b"[::1]",
    b"[::1]:8000",
    b"[2001:db8::1]",
    b"example.com.",
    b"my_host.internal",
]


@pytest.mark.parametrize("path", ["/", "/shop/cart", "/foreign/x"])
@pytest.mark.parametrize("host", GOOD_HOSTS)
def test_well_formed_hosts_are_served(make_app: MakeApp, host: bytes, path: str) -> None:
    assert serve(hosted(make_app), host, path).status == 200


def test_no_host_header_is_served_with_the_server_address(make_app: MakeApp) -> None:
    answer = serve(hosted(make_app), None)
    assert answer.json()["host"] == "127.0.0.1:8000"


def test_a_refused_host_is_refused_before_the_csrf_check(make_app: MakeApp) -> None:
    headers = [(b"sec-fetch-site", b"cross-site")]
    answer = serve(hosted(make_app), b"a@b", method="POST", headers=headers)
    assert answer.status == 400


TRUSTED = ["example.com", ".example.org", "api.test:8080"]


@pytest.mark.parametrize(
    ("host", "status"),
    [
        (b"example.com", 200),
        (b"example.com:8443", 200),  # an exact name allows any port
        (b"EXAMPLE.COM", 200),
        (b"example.com.", 200),
        (b"example.org", 200),
        (b"a.example.org", 200),
        (b"a.b.example.org:81", 200),
        (b"api.test:8080", 200),
        (b"api.test", 400),
        (b"api.test:8081", 400),
        (b"evilexample.org", 400),
        (b"example.org.evil.com", 400),
        (b"www.example.com", 400),
        (b"evil.com", 400),
        (b"127.0.0.1", 400),
    ],
)
def test_trusted_hosts(make_app: MakeApp, host: bytes, status: int) -> None:
    answer = serve(hosted(make_app, TRUSTED_HOSTS=TRUSTED), host)
    assert answer.status == status
    if status == 400:
        assert answer.json()["error"]["detail"] == "Host not allowed"


def test_trusted_hosts_from_the_environment(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KETTLE_TRUSTED_HOSTS", "example.com, .example.org")
    app = hosted(make_app)
    assert [serve(app, host).status for host in (b"a.example.org", b"evil.com")] == [200, 400]


@pytest.mark.parametrize("host", [b"anything.example", b"10.1.2.3:9"])
def test_a_star_allows_any_well_formed_host(make_app: MakeApp, host: bytes) -> None:
    app = hosted(make_app, TRUSTED_HOSTS=["*"])
    assert serve(app, host).status == 200
    assert serve(app, b"a@b").status == 400


@pytest.mark.parametrize(
    ("entry", "host"),
    [("[::1]", b"[::1]:8000"), ("[::1]:8000", b"[::1]:8000"), ("example.com.", b"example.com")],
)
def test_ipv6_and_trailing_dot_entries_match(make_app: MakeApp, entry: str, host: bytes) -> None:
    assert serve(hosted(make_app, TRUSTED_HOSTS=[entry]), host).status == 200


@pytest.mark.parametrize(
    "entry", ["a@b", "", ".", "x:99999", "ex ample", "a/b", "https://example.com", "..com"]
)
def test_a_bad_trusted_host_entry_stops_finalize(make_app: MakeApp, entry: str) -> None:
    app = hosted(make_app, TRUSTED_HOSTS=["example.com", entry])
    with pytest.raises(ConfigError, match="TRUSTED_HOSTS"):
        app.finalize()


def test_a_domain_entry_with_a_port_stops_finalize(make_app: MakeApp) -> None:
    app = hosted(make_app, TRUSTED_HOSTS=[".example.org:8080"])
    with pytest.raises(ConfigError, match="TRUSTED_HOSTS"):
        app.finalize()


def test_the_good_host_cache_stays_bounded(make_app: MakeApp) -> None:
    app = hosted(make_app)

    async def spray() -> list[int]:
        return [(await asgi_call(app, host=f"h{i}.example".encode())).status for i in range(1000)]

    assert set(asyncio.run(spray())) == {200}
    # The one private peek of these tests: the cache itself is what must not grow.
    assert len(app._hosts.known) <= 64


def test_a_refused_host_stays_refused(make_app: MakeApp) -> None:
    app = hosted(make_app, TRUSTED_HOSTS=["example.com"])
    assert [serve(app, b"evil.com").status for _ in range(3)] == [400, 400, 400]
    assert serve(app, b"example.com").status == 200


@pytest.mark.parametrize(
    ("accept", "kind"), [(b"application/json", "application/json"), (b"text/html", "text/html")]
)
def test_the_400_is_dressed_like_any_error(make_app: MakeApp, accept: bytes, kind: str) -> None:
    answer = serve(hosted(make_app), b"a@b", headers=[(b"accept", accept)])
    assert answer.status == 400
    assert (answer.header("content-type") or "").startswith(kind)
    frame = "SAMEORIGIN" if kind == "text/html" else "DENY"
    assert answer.header("x-frame-options") == frame
    assert [name for name, _ in answer.headers].count("x-frame-options") == 1


@pytest.mark.parametrize("path", ["/", "/users/7", "/shop/cart", "/foreign/x"])
def test_the_apps_error_handler_renders_the_400(make_app: MakeApp, path: str) -> None:
    app = hosted(make_app)

    @app.errorhandler(400)
    async def bad_request(req: Request, exc: HTTPError) -> tuple[str, int]:
        return f"<p>bad host: {exc.detail}</p>", 400

    answer = serve(app, b"a@b", path)
    assert (answer.status, answer.body) == (400, b"<p>bad host: invalid Host header</p>")


@pytest.mark.parametrize(
    "path",
    [
        "/shop/cart",
        "/shop/static-cart",
    ],
)
def test_a_routers_error_handler_does_not_render_the_host_400(make_app: MakeApp, path: str) -> None:
    app = make_app()
    shop = Router()

    @shop.get("/static-cart")
    async def static_cart(req: Request) -> str:
        return "cart"

    @shop.get("/<name>")
    async def cart(req: Request, name: str) -> str:
        return name

    @shop.errorhandler(400)
    async def shop_400(req: Request, exc: HTTPError) -> tuple[str, int]:
        return "shop 400", 400

    @app.errorhandler(400)
    async def app_400(req: Request, exc: HTTPError) -> tuple[str, int]:
        return "app 400", 400

    app.mount("/shop", shop)
    assert serve(app, b"a@b", path).body == b"app 400"


def test_test_client_hosts_are_served(make_app: MakeApp) -> None:
    with TestClient(hosted(make_app, TRUSTED_HOSTS=["testserver"])) as client:
        assert client.get("/").json() == {"host": "testserver", "url": "http://testserver/"}

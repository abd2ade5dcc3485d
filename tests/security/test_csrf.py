"""CSRF protection; mirrors kettle/security/csrf.py (SECURITY.md "CSRF" and hostile case 43)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kettle import (
    ConfigError,
    Forbidden,
    Kettle,
    Request,
    Response,
    SetupError,
    render_template_string,
)
from kettle.pipeline import CallNext
from kettle.security.csrf import CSRFProtection, csrf_token
from kettle.testing import TestClient
from tests.conftest import MakeApp

UNSAFE = ["POST", "PUT", "PATCH", "DELETE"]
SAFE = ["GET", "HEAD", "OPTIONS", "TRACE"]
OWN = "http://testserver"
URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


def guarded(make_app: MakeApp, csrf: CSRFProtection | None = None) -> Kettle:
    """An app whose unsafe requests go through ``csrf``, installed as the lead will."""
    protection = csrf if csrf is not None else CSRFProtection()
    app = make_app(CSRF_PROTECTION=False)

    async def guard(req: Request, call_next: CallNext) -> Response:
        if req.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
            await protection.protect(req)
        return await call_next(req)

    app.use(guard)

    @app.route("/submit", methods=UNSAFE)
    async def submit(req: Request) -> str:
        return "done"

    @app.route("/decide", methods=[*SAFE, *UNSAFE])
    async def decide(req: Request) -> str:
        # The header check alone, called directly whatever the method.
        return protection.rejection(req) or "pass"

    @app.post("/hooks/<name>")
    async def hook(req: Request, name: str) -> str:
        return f"hook {name}"

    @app.post("/hooks-admin")
    async def hooks_admin(req: Request) -> str:
        return "admin"

    @app.post("/form")
    async def form(req: Request) -> str:
        data = await req.form()
        return f"title={data.get('title')}"

    @app.get("/token")
    async def token(req: Request) -> str:
        return csrf_token(req)

    @app.get("/template")
    async def template(req: Request) -> str:
        return render_template_string("{{ csrf_token() }}|{{ csrf_token() }}")

    return app


def detail(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    text: str = response.json()["error"]["detail"]
    return text


# -- Sec-Fetch-Site -----------------------------------------------------------------


@pytest.mark.parametrize("method", UNSAFE)
@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_same_origin_and_user_initiated_pass(make_app: MakeApp, method: str, site: str) -> None:
    with TestClient(guarded(make_app)) as client:
        response = client.request(method, "/submit", headers={"sec-fetch-site": site})
    assert response.status_code == 200
    assert response.text == "done"


@pytest.mark.parametrize("method", UNSAFE)
@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_cross_and_same_site_are_refused(make_app: MakeApp, method: str, site: str) -> None:
    with TestClient(guarded(make_app)) as client:
        response = client.request(method, "/submit", headers={"sec-fetch-site": site})
    assert detail(response) == f"{site} {method} request refused (Sec-Fetch-Site: {site})"


@pytest.mark.parametrize("site", ["Same-Origin", "same-origin, cross-site", "bogus", "nonE"])
def test_unrecognised_sec_fetch_site_is_refused(make_app: MakeApp, site: str) -> None:
    with TestClient(guarded(make_app)) as client:
        response = client.post("/submit", headers={"sec-fetch-site": site})
    assert "unrecognised Sec-Fetch-Site" in detail(response)


def test_sec_fetch_site_wins_over_a_matching_origin(make_app: MakeApp) -> None:
    # A same-origin Origin does not rescue a request the browser called cross-site.
    with TestClient(guarded(make_app)) as client:
        response = client.post("/submit", headers={"sec-fetch-site": "cross-site", "origin": OWN})
    assert response.status_code == 403


@pytest.mark.parametrize("method", SAFE)
def test_safe_methods_always_pass(make_app: MakeApp, method: str) -> None:
    headers = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
    with TestClient(guarded(make_app)) as client:
        response = client.request(method, "/decide", headers=headers)
    assert response.status_code == 200
    if method != "HEAD":
        assert response.text == "pass"


@pytest.mark.parametrize("headers", [{}, {"sec-fetch-site": ""}, {"origin": ""}])
def test_no_browser_headers_pass(make_app: MakeApp, headers: dict[str, str]) -> None:
    # curl, server-to-server, old browsers: no cookie was sent on anyone's behalf.
    with TestClient(guarded(make_app)) as client:
        assert client.post("/submit", headers=headers).status_code == 200


# -- Origin -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "host", "origin"),
    [
        (OWN, None, OWN),
        (OWN, None, "HTTP://TestServer"),
        (OWN, None, "http://testserver:80"),
        (OWN, "testserver:80", OWN),
        (OWN, "TESTSERVER:80", "http://testserver:80"),
        (OWN, "testserver:8080", "http://testserver:8080"),
        ("https://testserver", None, "https://testserver"),
        ("https://testserver", None, "https://testserver:443"),
        ("https://testserver", "testserver:443", "https://testserver"),
        ("http://[::1]:8000", None, "http://[::1]:8000"),
    ],
)
def test_matching_origin_passes(
    make_app: MakeApp, base_url: str, host: str | None, origin: str
) -> None:
    headers = {"origin": origin, **({"host": host} if host else {})}
    with TestClient(guarded(make_app), base_url=base_url) as client:
        response = client.post("/submit", headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://testserver",  # another scheme is another origin
        "http://testserver:8080",
        "http://testserver:443",
        "http://testserver.evil.example",
        "http://evil.example/http://testserver",
        "http://testserver/",
    ],
)
def test_foreign_origin_is_refused(make_app: MakeApp, origin: str) -> None:
    with TestClient(guarded(make_app)) as client:
        response = client.post("/submit", headers={"origin": origin})
    assert detail(response) == f"Origin {origin} does not match this site"


def test_null_origin_is_refused(make_app: MakeApp) -> None:
    with TestClient(guarded(make_app)) as client:
        response = client.delete("/submit", headers={"origin": "null"})
    assert detail(response) == "Origin null (an opaque origin) refused for a DELETE request"


def test_a_huge_origin_is_shortened_in_the_reason(make_app: MakeApp) -> None:
    origin = "https://" + "a" * 5000 + ".example"
    with TestClient(guarded(make_app)) as client:
        reason = detail(client.post("/submit", headers={"origin": origin}))
    assert len(reason) < 200
    assert reason.startswith("Origin https://aaa")


# -- trusted origins ----------------------------------------------------------------

TRUSTED = CSRFProtection(trusted_origins=["https://a.example", "HTTPS://B.Example:443"])


@pytest.mark.parametrize("site", ["cross-site", "same-site", None])
@pytest.mark.parametrize(
    "origin", ["https://a.example", "https://b.example", "https://A.EXAMPLE:443"]
)
def test_trusted_origins_pass(make_app: MakeApp, site: str | None, origin: str) -> None:
    headers = {"origin": origin, **({"sec-fetch-site": site} if site else {})}
    with TestClient(guarded(make_app, TRUSTED)) as client:
        assert client.post("/submit", headers=headers).status_code == 200


@pytest.mark.parametrize("site", ["cross-site", None])
@pytest.mark.parametrize(
    "origin",
    [
        "https://a.example.evil.com",
        "https://evil-a.example",
        "http://a.example",
        "https://a.example:8443",
        "https://sub.a.example",
        "null",
    ],
)
def test_trust_is_exact(make_app: MakeApp, site: str | None, origin: str) -> None:
    headers = {"origin": origin, **({"sec-fetch-site": site} if site else {})}
    with TestClient(guarded(make_app, TRUSTED)) as client:
        assert client.post("/submit", headers=headers).status_code == 403


@pytest.mark.parametrize(
    "origin",
    [
        "https://a.example/path",
        "https://a.example/",
        "https://a.example?x=1",
        "https://a.example#top",
        "*",
        "https://*.example",
        "a.example",
        "//a.example",
        "ftp://x",
        "https://user@a.example",
        "https://a.example:99999",
        "https://a.example:0",
        "https://",
        "https://bücher.example",
        "",
    ],
)
def test_bad_trusted_origins_are_setup_errors(origin: str) -> None:
    with pytest.raises(SetupError, match="trusted origin") as caught:
        CSRFProtection(trusted_origins=[origin])
    assert repr(origin) in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"trusted_origins": "https://a.example"}, "list of strings"),
        ({"trusted_origins": [42]}, "strings"),
        ({"exempt": ["hooks/"]}, "starting with '/'"),
        ({"exempt": [" /hooks"]}, "starting with '/'"),
        ({"header_name": "X CSRF"}, "header_name"),
        ({"header_name": ""}, "header_name"),
        ({"field_name": ""}, "field_name"),
    ],
)
def test_bad_arguments_are_setup_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(SetupError, match=match):
        CSRFProtection(**kwargs)


# -- exemptions ---------------------------------------------------------------------

CROSS = {"sec-fetch-site": "cross-site"}


@pytest.mark.parametrize(
    ("exempt", "path", "status"),
    [
        (["/hooks/<name>"], "/hooks/github", 200),  # the route's pattern
        (["/hooks/github"], "/hooks/github", 200),  # the exact path
        (["/hooks/github"], "/hooks/gitlab", 403),
        (["/hooks/"], "/hooks/github", 403),  # never a prefix
        (["/hooks/"], "/hooks-admin", 403),
        (["/hooks"], "/hooks-admin", 403),
        (["/hooks/<name>"], "/hooks-admin", 403),
        (["/hooks/<name>"], "/submit", 403),
    ],
)
def test_exemptions_are_exact(make_app: MakeApp, exempt: list[str], path: str, status: int) -> None:
    with TestClient(guarded(make_app, CSRFProtection(exempt=exempt))) as client:
        assert client.post(path, headers=CROSS).status_code == status
        assert client.post(path, headers={"origin": "https://evil.example"}).status_code == status


# -- synchronizer tokens ------------------------------------------------------------


@pytest.fixture
def client(make_app: MakeApp) -> Iterator[TestClient]:
    protection = CSRFProtection(tokens=True, exempt=["/hooks/<name>"])
    with TestClient(guarded(make_app, protection)) as client:
        yield client


def token_of(client: TestClient) -> str:
    response = client.get("/token")
    assert response.status_code == 200
    return response.text


def test_token_in_an_urlencoded_form(client: TestClient) -> None:
    data = {"title": "hi", "csrf_token": token_of(client)}
    response = client.post("/form", data=data, headers={"sec-fetch-site": "same-origin"})
    assert response.status_code == 200
    assert response.text == "title=hi"  # the handler still reads the form the guard read


def test_token_in_a_multipart_form(client: TestClient) -> None:
    data = {"title": "up", "csrf_token": token_of(client)}
    response = client.post("/form", data=data, files={"doc": ("a.txt", b"hello")})
    assert response.status_code == 200
    assert response.text == "title=up"


def test_token_in_the_header(client: TestClient) -> None:
    headers = {"x-csrf-token": token_of(client), "content-type": "application/json"}
    response = client.put("/submit", content=b"{}", headers=headers)
    assert response.status_code == 200


def test_tokens_differ_per_call_and_all_verify(client: TestClient) -> None:
    tokens = {token_of(client) for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(token) == 86 for token in tokens)
    for token in tokens:
        assert client.post("/submit", headers={"x-csrf-token": token}).status_code == 200


def test_the_template_global_issues_tokens(client: TestClient) -> None:
    response = client.get("/template")
    assert response.status_code == 200
    first, second = response.text.split("|")
    assert first != second
    for token in (first, second):
        assert client.post("/submit", data={"csrf_token": token}).status_code == 200


@pytest.mark.parametrize(
    ("send", "reason"),
    [
        ({}, "CSRF token missing"),
        ({"headers": {"x-csrf-token": ""}}, "CSRF token missing"),
        ({"data": {"title": "no token"}}, "CSRF token missing"),
        ({"data": {"csrf_token": ""}}, "CSRF token missing"),
        # A form field in a body that is not a form is not looked for.
        ({"json": {"csrf_token": "TOKEN"}}, "CSRF token missing"),
        ({"content": b"csrf_token=TOKEN", "headers": {"content-type": "text/plain"}}, "missing"),
    ],
)
def test_missing_tokens_are_refused(client: TestClient, send: dict[str, Any], reason: str) -> None:
    token = token_of(client)
    if "json" in send:
        send = {"json": {"csrf_token": token}}
    elif "content" in send:
        send = {**send, "content": send["content"].replace(b"TOKEN", token.encode())}
    assert reason in detail(client.post("/submit", **send))


def flip(token: str, index: int) -> str:
    char = "A" if token[index] != "A" else "B"
    return token[:index] + char + token[index + 1 :]


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: flip(t, 0),  # the pad
        lambda t: flip(t, 60),  # the masked secret
        lambda t: t[:-1],
        lambda t: t + "A",
        lambda t: t * 2,
        lambda t: t[:43],  # the length of a bare secret
        lambda t: "!" * 86,
        lambda t: t[:-2] + "==",
        lambda t: t[:-1] + "+",
        lambda t: t[:-1] + "/",
        lambda t: "A" * 86,
        lambda t: t[:85] + " ",
    ],
)
def test_tampered_tokens_are_refused(client: TestClient, forge: Any) -> None:
    token = forge(token_of(client))
    assert detail(client.post("/submit", headers={"x-csrf-token": token})) == "CSRF token invalid"
    response = client.post("/submit", data={"csrf_token": token})
    assert detail(response) == "CSRF token invalid"


@pytest.mark.parametrize("token", ["é" * 86, "\u2603" * 86, "\x00" * 86, "ÿ" * 86, "é"])
def test_non_ascii_tokens_are_403_not_500(client: TestClient, token: str) -> None:
    token_of(client)
    response = client.post("/submit", data={"csrf_token": token})
    assert detail(response) == "CSRF token invalid"
    response = client.post("/submit", headers=[(b"x-csrf-token", token.encode("utf-8"))])
    assert detail(response) == "CSRF token invalid"


def test_a_token_of_another_session_is_refused(client: TestClient) -> None:
    other = TestClient(client.app)
    with other:
        foreign = token_of(other)
        assert other.post("/submit", headers={"x-csrf-token": foreign}).status_code == 200
    token_of(client)
    response = client.post("/submit", headers={"x-csrf-token": foreign})
    assert detail(response) == "CSRF token invalid"


def test_a_token_without_any_session_is_refused(client: TestClient) -> None:
    token = token_of(client)
    client.cookies.clear()
    assert detail(client.post("/submit", headers={"x-csrf-token": token})) == "CSRF token invalid"


def test_the_header_check_comes_before_the_token(client: TestClient) -> None:
    headers = {"x-csrf-token": token_of(client), **CROSS}
    assert "cross-site" in detail(client.post("/submit", headers=headers))


def test_exempt_routes_need_no_token(client: TestClient) -> None:
    assert client.post("/hooks/github", headers=CROSS).text == "hook github"
    assert client.post("/hooks/github").status_code == 200
    assert client.get("/decide").text == "pass"


def test_tokens_survive_for_the_session(client: TestClient) -> None:
    first = token_of(client)
    token_of(client)  # a second render keeps the same secret
    assert client.post("/submit", headers={"x-csrf-token": first}).status_code == 200


def test_csrf_token_outside_a_request_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="csrf_token\\(\\) needs a request"):
        csrf_token()


def test_tokens_need_sessions(make_app: MakeApp, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(SESSION_BACKEND="none")

    @app.get("/t")
    async def issue(req: Request) -> str:
        return csrf_token(req)

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/t").status_code == 500
    assert "CSRF tokens are kept in the session" in caplog.text


# -- from_config --------------------------------------------------------------------


def test_from_config_reads_lists_and_comma_separated_strings(make_app: MakeApp) -> None:
    csrf = CSRFProtection.from_config(
        {
            "CSRF_TRUSTED_ORIGINS": " https://a.example , https://b.example:8443,",
            "CSRF_EXEMPT": ["/hooks/<name>"],
            "CSRF_TOKENS": "no",
        }
    )
    assert "https://b.example:8443" in repr(csrf)
    with TestClient(guarded(make_app, csrf)) as client:
        for origin in ("https://a.example", "https://b.example:8443"):
            assert client.post("/submit", headers={"origin": origin}).status_code == 200
        assert client.post("/hooks/x", headers=CROSS).status_code == 200
        assert client.post("/submit", headers=CROSS).status_code == 403
        assert client.post("/submit").status_code == 200  # tokens off


def test_from_config_defaults_and_tokens(make_app: MakeApp) -> None:
    assert repr(CSRFProtection.from_config({})) == (
        "CSRFProtection(trusted_origins=[], exempt=[], tokens=False)"
    )
    assert "tokens=True" in repr(CSRFProtection.from_config({"CSRF_TOKENS": "1"}))


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"CSRF_TRUSTED_ORIGINS": "https://a.example/"}, "CSRF_TRUSTED_ORIGINS: .*trailing"),
        ({"CSRF_TRUSTED_ORIGINS": 5}, "CSRF_TRUSTED_ORIGINS must be a list"),
        ({"CSRF_EXEMPT": ["/ok", 3]}, "CSRF_EXEMPT must be a list"),
        ({"CSRF_EXEMPT": "hooks"}, "CSRF_EXEMPT: .*starting with '/'"),
        ({"CSRF_TOKENS": "maybe"}, "CSRF_TOKENS must be a boolean"),
    ],
)
def test_from_config_refuses_bad_values(config: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        CSRFProtection.from_config(config)


# -- any header value ends in a clean decision ---------------------------------------

_APP = Kettle(__name__, config={"SECRET_KEY": "x" * 32})
_INTERESTING = st.sampled_from(
    [b"same-origin", b"none", b"cross-site", b"same-site", b"null", b"", b"http://testserver"]
)
_VALUES = st.one_of(st.none(), _INTERESTING, st.binary(max_size=300))


def raw_request(method: str, headers: dict[bytes, bytes | None]) -> Request:
    pairs = [(name, value) for name, value in headers.items() if value is not None]
    scope = {"type": "http", "method": method, "path": "/submit", "headers": pairs}
    return Request(scope, None, _APP)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from([*UNSAFE, *SAFE]),
    site=_VALUES,
    origin=_VALUES,
    host=_VALUES,
    trusted=st.booleans(),
)
def test_any_header_values_give_a_clean_decision(
    method: str, site: bytes | None, origin: bytes | None, host: bytes | None, trusted: bool
) -> None:
    csrf = TRUSTED if trusted else CSRFProtection(exempt=["/other"])
    headers = {b"sec-fetch-site": site, b"origin": origin, b"host": host}
    reason = csrf.rejection(raw_request(method, headers))
    assert reason is None or (isinstance(reason, str) and 0 < len(reason) < 200)
    if method in SAFE or not (site or origin):
        assert reason is None
    if site in (b"same-origin", b"none"):
        assert reason is None
    if site in (b"cross-site", b"same-site") and not trusted and method in UNSAFE:
        assert reason is not None
    try:
        asyncio.run(csrf.protect(raw_request(method, headers)))
    except Forbidden as exc:
        assert exc.detail == reason
    else:
        assert reason is None

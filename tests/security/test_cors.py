"""CORS; mirrors kettle/security/cors.py (SECURITY.md, "CORS" and hostile case 44)."""

from __future__ import annotations

import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kettle import Kettle, NotFound, Request, Response, Router, SetupError
from kettle.security.cors import CORS
from kettle.testing import TestClient
from tests.servers.serverutil import clean_environment, serve

A = "https://a.example"
B = "https://b.example"
EVIL = "https://evil.example"
ACAO = "access-control-allow-origin"
ACAC = "access-control-allow-credentials"
ACAM = "access-control-allow-methods"
ACAH = "access-control-allow-headers"
ACEH = "access-control-expose-headers"
MAX_AGE = "access-control-max-age"
ACAPN = "access-control-allow-private-network"
PREFLIGHT_VARY = ["Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"]


def new_app() -> Kettle:
    # CSRF protection is on by default and refuses unsafe cross-origin requests unless the
    # origin is trusted: an API opened to A and B with CORS trusts them for CSRF too.
    return Kettle(__name__, config={"SECRET_KEY": "x" * 32, "CSRF_TRUSTED_ORIGINS": [A, B]})


def cors_app(cors: CORS | None = None, calls: list[str] | None = None) -> Kettle:
    """An app with ``cors`` on it and a few routes; ``calls`` records handler runs."""
    app = new_app()
    app.use(cors or CORS(origins=[A, B]))
    seen = calls if calls is not None else []

    @app.route("/items", methods=["GET", "POST", "PUT"])
    async def items(req: Request) -> dict[str, str]:
        seen.append(f"{req.method} /items")
        return {"method": req.method}

    @app.route("/explicit", methods=["GET", "OPTIONS"])
    async def explicit(req: Request) -> Response:
        seen.append(f"{req.method} /explicit")
        return Response("own options", 200)

    @app.get("/varied")
    async def varied(req: Request) -> Response:
        return Response("v", 200, {"Vary": "Accept-Encoding"})

    @app.get("/star-vary")
    async def star_vary(req: Request) -> Response:
        return Response("v", 200, {"Vary": "*"})

    @app.get("/own-cors")
    async def own_cors(req: Request) -> Response:
        return Response("v", 200, {"Access-Control-Allow-Origin": "https://own.example"})

    @app.get("/boom")
    async def boom(req: Request) -> None:
        raise RuntimeError("boom")

    @app.get("/gone")
    async def gone(req: Request) -> None:
        raise NotFound()

    return app


def preflight(
    client: TestClient,
    path: str = "/items",
    origin: str | None = A,
    method: str = "PUT",
    headers: str | None = None,
    **extra: str,
) -> httpx.Response:
    sent = {"access-control-request-method": method, **extra}
    if origin is not None:
        sent["origin"] = origin
    if headers is not None:
        sent["access-control-request-headers"] = headers
    return client.options(path, headers=sent)


def vary(response: httpx.Response) -> list[str]:
    values = response.headers.get_list("vary")
    return [token.strip() for value in values for token in value.split(",")]


def no_cors(response: httpx.Response) -> bool:
    return not any(name.startswith("access-control-") for name in response.headers)


# -- simple and actual requests ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
@pytest.mark.parametrize(
    ("origin", "granted"), [(A, True), (B, True), (EVIL, False), (None, False)]
)
def test_actual_requests(method: str, origin: str | None, granted: bool) -> None:
    calls: list[str] = []
    headers = {"origin": origin} if origin else {}
    with TestClient(cors_app(calls=calls)) as client:
        response = client.request(method, "/items", headers=headers)
    if origin == EVIL and method != "GET":
        # The CSRF check (inside the middleware) refuses it; CORS still dresses the 403.
        assert response.status_code == 403 and calls == []
    else:
        assert response.status_code == 200
        assert response.json() == {"method": method}
        assert calls == [f"{method} /items"]
    if granted:
        assert response.headers.get_list(ACAO) == [origin]
        assert ACAC not in response.headers  # no credentials unless asked for
    else:
        assert no_cors(response)
    # The answer depended on the Origin whenever there was one.
    assert vary(response) == (["Origin"] if origin else [])


@pytest.mark.parametrize(
    "origin",
    [
        "https://a.example.evil.com",
        "http://a.example",
        "https://a.example:444",
        "https://a.exampl",
        "https://xa.example",
        "https://a.example/",
        "https://a.example/path",
        "https://user@a.example",
        " https://a.example",
        "null",
        "",
    ],
)
def test_only_exact_origins_are_allowed(origin: str) -> None:
    with TestClient(cors_app()) as client:
        simple = client.get("/items", headers={"origin": origin})
        answer = preflight(client, origin=origin)
    assert no_cors(simple) and "Origin" in vary(simple)
    assert answer.status_code == 400 and no_cors(answer)


def test_origins_compare_after_lower_casing() -> None:
    app = cors_app(CORS(origins=["HTTPS://A.Example"]))
    with TestClient(app) as client:
        for sent in (A, "HTTPS://A.EXAMPLE", "https://A.example"):
            assert client.get("/items", headers={"origin": sent}).headers[ACAO] == A
            assert preflight(client, origin=sent).headers[ACAO] == A


@pytest.mark.parametrize(
    ("origin", "granted"),
    [
        ("https://x.example.com", True),
        ("https://deep-name.example.com", True),
        ("HTTPS://X.EXAMPLE.COM", True),
        ("https://x.example.com.evil.net", False),
        ("https://evil.net/https://x.example.com", False),
        ("http://x.example.com", False),
        ("https://.example.com", False),
        ("https://x.example.com:8443", False),
        ("https://example.com", False),
        ("null", False),
    ],
)
def test_origin_regex_must_match_the_whole_origin(origin: str, granted: bool) -> None:
    app = cors_app(CORS(origin_regex=r"https://[a-z0-9-]+\.example\.com"))
    with TestClient(app) as client:
        simple = client.get("/items", headers={"origin": origin})
        answer = preflight(client, origin=origin)
    if granted:
        assert simple.headers[ACAO] == origin.lower()
        assert answer.status_code == 204 and answer.headers[ACAO] == origin.lower()
    else:
        assert no_cors(simple)
        assert answer.status_code == 400 and no_cors(answer)


def test_a_loose_regex_never_echoes_a_malformed_origin() -> None:
    app = cors_app(CORS(origin_regex=r".+"))
    with TestClient(app) as client:
        for origin in ("https://a.example/x y", "javascript:alert(1)", "null", "https://a b"):
            assert no_cors(client.get("/items", headers={"origin": origin}))
        assert client.get("/items", headers={"origin": A}).headers[ACAO] == A


@pytest.mark.parametrize(
    ("origins", "granted"), [(["null"], True), ([A], False), ("*", False), (["*", "null"], True)]
)
def test_the_null_origin_only_when_listed(origins: list[str] | str, granted: bool) -> None:
    with TestClient(cors_app(CORS(origins=origins))) as client:
        response = client.get("/items", headers={"origin": "null"})
    assert (response.headers.get(ACAO) == "null") is granted


def test_any_origin_without_credentials_gets_a_star() -> None:
    with TestClient(cors_app(CORS(origins="*", expose_headers=["X-Total"]))) as client:
        simple = client.get("/items", headers={"origin": EVIL})
        answer = preflight(client, origin=EVIL)
    assert simple.headers[ACAO] == "*" and simple.headers[ACEH] == "X-Total"
    assert vary(simple) == ["Origin"]
    assert answer.status_code == 204 and answer.headers[ACAO] == "*"


# -- credentials -------------------------------------------------------------------------------


def test_credentials_echo_the_origin() -> None:
    with TestClient(cors_app(CORS(origins=[A], credentials=True))) as client:
        simple = client.get("/items", headers={"origin": A})
        answer = preflight(client, origin=A)
    assert simple.headers.get_list(ACAO) == [A] and simple.headers[ACAC] == "true"
    assert vary(simple) == ["Origin"]
    assert answer.status_code == 204
    assert answer.headers[ACAO] == A and answer.headers[ACAC] == "true"
    assert vary(answer) == PREFLIGHT_VARY


@pytest.mark.parametrize("kind", ["simple", "preflight"])
@pytest.mark.parametrize(
    "cors",
    [
        pytest.param(lambda: CORS(origins=[A], credentials=True), id="list"),
        pytest.param(
            lambda: CORS(origin_regex=r"https://a\.example", credentials=True), id="regex"
        ),
    ],
)
def test_hostile_44_credentials_and_an_unlisted_origin(kind: str, cors: Any) -> None:
    calls: list[str] = []
    with TestClient(cors_app(cors(), calls)) as client:
        if kind == "simple":
            response = client.post("/items", headers={"origin": EVIL})
            assert response.status_code == 403 and calls == []  # CSRF refuses it too
        else:
            response = preflight(client, origin=EVIL)
            assert response.status_code == 400 and calls == []
    assert ACAO not in response.headers and ACAC not in response.headers
    assert no_cors(response)


# -- preflights --------------------------------------------------------------------------------


def test_a_preflight_is_answered_without_the_handler() -> None:
    calls: list[str] = []
    cors = CORS(origins=[A], headers=["X-Token", "authorization"], max_age=300)
    with TestClient(cors_app(cors, calls)) as client:
        response = preflight(client, "/explicit", headers="x-token, Authorization, content-type")
    assert response.status_code == 204 and response.content == b""
    assert calls == []
    assert response.headers[ACAO] == A
    assert response.headers[ACAM] == "GET, HEAD, POST, PUT, PATCH, DELETE"
    assert response.headers[ACAH] == "x-token, authorization, content-type"
    assert response.headers[MAX_AGE] == "300"
    assert ACAC not in response.headers and ACEH not in response.headers
    assert vary(response) == PREFLIGHT_VARY


@pytest.mark.parametrize(
    ("origin", "status", "handled"),
    [(A, 204, False), (EVIL, 400, False), (None, 200, True)],
)
def test_preflight_by_origin(origin: str | None, status: int, handled: bool) -> None:
    calls: list[str] = []
    with TestClient(cors_app(calls=calls)) as client:
        response = preflight(client, "/explicit", origin=origin)
    assert response.status_code == status
    # Without an Origin it is not a preflight: the route's own OPTIONS handler answers.
    assert calls == (["OPTIONS /explicit"] if handled else [])
    assert (ACAO in response.headers) is (status == 204)


def test_options_without_a_request_method_is_not_a_preflight() -> None:
    calls: list[str] = []
    with TestClient(cors_app(calls=calls)) as client:
        response = client.options("/explicit", headers={"origin": A})
    assert response.status_code == 200 and response.text == "own options"
    assert calls == ["OPTIONS /explicit"]
    assert response.headers[ACAO] == A and ACAM not in response.headers


@pytest.mark.parametrize("path", ["/nowhere", "/items", "/varied"])
def test_preflights_for_any_path_are_answered(path: str) -> None:
    # An unknown path (404) and paths without an OPTIONS route pass through app middleware.
    with TestClient(cors_app()) as client:
        response = preflight(client, path, method="DELETE")
    assert response.status_code == 204 and response.headers[ACAO] == A


@pytest.mark.parametrize(
    ("method", "headers", "message"),
    [
        ("TRACE", None, "method TRACE is not allowed"),
        ("put", None, "method put is not allowed"),
        ("PUT", "x-secret", "header x-secret is not allowed"),
        ("PUT", "x-a, content-type, x-b", "headers x-a, x-b are not allowed"),
        ("PUT", "bad header", "header 'bad header' is not allowed"),
        ("TRACE", "x-secret", "method TRACE is not allowed; header x-secret is not allowed"),
    ],
)
def test_a_disallowed_method_or_header_is_refused(
    method: str, headers: str | None, message: str
) -> None:
    with TestClient(cors_app()) as client:
        response = preflight(client, method=method, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == f"CORS preflight refused: {message}"
    assert no_cors(response)


def test_a_refused_origin_is_named() -> None:
    with TestClient(cors_app()) as client:
        response = preflight(client, origin=EVIL)
    assert response.text == f"CORS preflight refused: origin {EVIL} is not allowed"


def test_any_header_and_method_are_echoed_without_credentials() -> None:
    with TestClient(cors_app(CORS(origins=[A], headers="*", methods="*"))) as client:
        response = preflight(client, method="PROPFIND", headers="X-One,x-two")
    assert response.status_code == 204
    assert response.headers[ACAM] == "PROPFIND"
    assert response.headers[ACAH] == "x-one, x-two"


@pytest.mark.parametrize(("max_age", "sent"), [(600, "600"), (0, "0"), (None, None)])
def test_max_age(max_age: int | None, sent: str | None) -> None:
    cors = CORS(origins=[A]) if max_age == 600 else CORS(origins=[A], max_age=max_age)
    with TestClient(cors_app(cors)) as client:
        response = preflight(client)
    assert response.headers.get(MAX_AGE) == sent


@pytest.mark.parametrize(
    ("enabled", "asked", "answered"),
    [(True, "true", True), (True, None, False), (False, "true", False)],
)
def test_private_network(enabled: bool, asked: str | None, answered: bool) -> None:
    extra = {"access-control-request-private-network": asked} if asked else {}
    with TestClient(cors_app(CORS(origins=[A], private_network=enabled))) as client:
        response = preflight(client, **extra)
    assert response.status_code == 204
    assert (response.headers.get(ACAPN) == "true") is answered
    if enabled:
        assert vary(response) == [*PREFLIGHT_VARY, "Access-Control-Request-Private-Network"]


# -- response headers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "origin", "expected"),
    [
        ("/varied", A, ["Accept-Encoding", "Origin"]),
        ("/varied", EVIL, ["Accept-Encoding", "Origin"]),
        ("/varied", None, ["Accept-Encoding"]),
        ("/star-vary", A, ["*"]),
    ],
)
def test_vary_is_merged_with_the_handlers_own(
    path: str, origin: str | None, expected: list[str]
) -> None:
    with TestClient(cors_app()) as client:
        response = client.get(path, headers={"origin": origin} if origin else {})
    assert len(response.headers.get_list("vary")) == 1
    assert vary(response) == expected


def test_vary_is_not_repeated_by_two_instances() -> None:
    app = new_app()
    app.use(CORS(origins=[A]))

    @app.get("/x", middleware=[CORS(origins=[A, B])])
    async def x(req: Request) -> Response:
        return Response("x", 200, {"Vary": "origin"})

    with TestClient(app) as client:
        both = client.get("/x", headers={"origin": A})
        inner = client.get("/x", headers={"origin": B})
    assert vary(both) == vary(inner) == ["origin"]
    # One Access-Control-Allow-Origin, never two; the route's own instance grants B.
    assert both.headers.get_list(ACAO) == [A]
    assert inner.headers.get_list(ACAO) == [B]


def test_expose_headers_on_actual_responses() -> None:
    cors = CORS(origins=[A], expose_headers=["X-Total-Count", "ETag"], credentials=True)
    with TestClient(cors_app(cors)) as client:
        granted = client.get("/items", headers={"origin": A})
        refused = client.get("/items", headers={"origin": EVIL})
    assert granted.headers[ACEH] == "X-Total-Count, ETag"
    assert granted.headers[ACAC] == "true"
    assert no_cors(refused)


def test_a_header_the_handler_set_wins() -> None:
    with TestClient(cors_app()) as client:
        response = client.get("/own-cors", headers={"origin": A})
    assert response.headers.get_list(ACAO) == ["https://own.example"]
    assert vary(response) == ["Origin"]


@pytest.mark.parametrize(("path", "status"), [("/boom", 500), ("/gone", 404), ("/nowhere", 404)])
@pytest.mark.parametrize(("origin", "granted"), [(A, True), (EVIL, False)])
def test_error_responses_carry_cors_headers(
    path: str, status: int, origin: str, granted: bool
) -> None:
    with TestClient(cors_app(), raise_server_exceptions=False) as client:
        response = client.get(path, headers={"origin": origin})
    assert response.status_code == status
    assert (response.headers.get(ACAO) == origin) is granted
    assert "Origin" in vary(response)


# -- routers and routes ------------------------------------------------------------------------


def test_cors_on_a_router_applies_under_its_prefix_only() -> None:
    app = new_app()
    api = Router("api")
    api.use(CORS(origins=[A]))

    @api.get("/items")
    async def api_items(req: Request) -> dict[str, int]:
        return {"n": 1}

    @app.get("/items")
    async def site_items(req: Request) -> dict[str, int]:
        return {"n": 2}

    app.mount("/api", api)
    with TestClient(app) as client:
        inside = client.get("/api/items", headers={"origin": A})
        outside = client.get("/items", headers={"origin": A})
        inside_preflight = preflight(client, "/api/unknown")
        outside_preflight = preflight(client, "/items")
    assert inside.headers[ACAO] == A and inside.json() == {"n": 1}
    assert no_cors(outside) and "vary" not in outside.headers
    assert inside_preflight.status_code == 204 and inside_preflight.headers[ACAO] == A
    # Outside the router no CORS: the automatic OPTIONS answer, without CORS headers.
    assert outside_preflight.status_code == 204 and no_cors(outside_preflight)


def test_cors_on_one_route() -> None:
    app = new_app()

    # OPTIONS is listed so that preflights reach the route's own chain, where CORS is.
    @app.route("/open", methods=["GET", "PUT", "OPTIONS"], middleware=[CORS(origins=[A])])
    async def opened(req: Request) -> str:
        return "open"

    @app.get("/closed")
    async def closed(req: Request) -> str:
        return "closed"

    with TestClient(app) as client:
        assert client.get("/open", headers={"origin": A}).headers[ACAO] == A
        assert preflight(client, "/open").headers[ACAO] == A
        assert no_cors(client.get("/closed", headers={"origin": A}))


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"origins": "*", "credentials": True}, 'origins="*" cannot be combined with credentials'),
        ({"origins": [A, "*"], "credentials": True}, 'origins="*" cannot be combined'),
        ({"origins": [A], "headers": "*", "credentials": True}, 'headers="*" cannot'),
        ({"origins": [A], "methods": ["*"], "credentials": True}, 'methods="*" cannot'),
        ({"origins": [A], "expose_headers": "*", "credentials": True}, 'expose_headers="*"'),
        ({"origins": ["https://a.example/"]}, "drop the trailing '/'"),
        ({"origins": ["https://a.example/api"]}, "must be scheme://host[:port]"),
        ({"origins": ["a.example"]}, "must be scheme://host[:port]"),
        ({"origins": ["https://a.example?x=1"]}, "must be scheme://host[:port]"),
        ({"origins": ["https://u@a.example"]}, "must be scheme://host[:port]"),
        ({"origins": ["https://a.example:443"]}, "never send the default port"),
        ({"origins": ["https://a.example:70000"]}, "out of range"),
        ({"origins": ["https://bücher.example"]}, "punycode"),
        ({"origins": [A, 7]}, "origins= takes strings"),
        ({"origin_regex": "https://(unclosed"}, "not a valid regex"),
        ({"origins": [A], "methods": ["GET", "BAD METHOD"]}, "not a valid method"),
        ({"origins": [A], "headers": ["X-Ok", "X-Bad:"]}, "not a valid header"),
        ({"origins": [A], "expose_headers": ["a, b"]}, "not a valid header"),
        ({"origins": [A], "max_age": -1}, "cannot be negative"),
        ({"origins": [A], "max_age": True}, "whole seconds"),
        ({}, "give origins= or origin_regex="),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(SetupError, match="CORS: ") as caught:
        CORS(**settings)
    assert message in str(caught.value)


def test_good_settings_are_accepted() -> None:
    CORS(origins=["null", "http://localhost:5173", "http://[::1]:8000", "chrome-extension://abc"])
    CORS(origins=A, credentials=True, methods=["get", "patch"], headers=["X-Token"])
    CORS(origin_regex=r"https://.*\.example\.com", credentials=True, max_age=None)


# -- fuzzing and a real server -----------------------------------------------------------------

header_text = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=60)
origin_values = st.one_of(
    header_text, st.sampled_from([A, B, EVIL, "null", "HTTPS://A.EXAMPLE", "*", ""])
)


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[TestClient]:
    app = new_app()
    app.use(CORS(origins=[A, "null"], origin_regex=r"https://.+\.b\.example", headers=["x-a"]))

    @app.route("/x", methods=["GET", "POST", "OPTIONS"])
    async def x(req: Request) -> str:
        return "x"

    with TestClient(app) as client:
        yield client


# Derandomized and without an example database: the same 150 inputs on every run.
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST", "OPTIONS"]),
    origin=origin_values,
    request_method=st.one_of(st.none(), header_text),
    request_headers=st.one_of(st.none(), header_text),
    private=st.one_of(st.none(), header_text),
)
def test_arbitrary_headers_never_break_the_middleware(
    fuzz_client: TestClient,
    method: str,
    origin: str,
    request_method: str | None,
    request_headers: str | None,
    private: str | None,
) -> None:
    sent = [("origin", origin)]
    for name, value in (
        ("access-control-request-method", request_method),
        ("access-control-request-headers", request_headers),
        ("access-control-request-private-network", private),
    ):
        if value is not None:
            sent.append((name, value))
    raw = [(name.encode(), value.encode("latin-1")) for name, value in sent]
    response = fuzz_client.request(method, "/x", headers=raw)
    # 403: the CSRF check refusing a cross-origin POST, after the middleware ran.
    assert response.status_code in (200, 204, 400, 403)
    granted = response.headers.get_list(ACAO)
    assert granted in ([], [A], ["null"]) or (
        len(granted) == 1 and granted[0].endswith(".b.example") and "/" not in granted[0][8:]
    )
    if response.status_code == 400:
        assert granted == [] and response.text.startswith("CORS preflight refused: ")


SERVED_APP = """
from kettle import Kettle, Request
from kettle.security.cors import CORS

app = Kettle(
    __name__, config={"SECRET_KEY": "x" * 32, "CSRF_TRUSTED_ORIGINS": ["https://a.example"]}
)
app.use(CORS(origins=["https://a.example"], credentials=True, headers=["content-type"]))


@app.route("/items", methods=["GET", "PUT"])
async def items(req: Request) -> dict[str, str]:
    return {"method": req.method}
"""


def test_over_a_real_uvicorn_server(tmp_path: Path) -> None:
    (tmp_path / "cors_app.py").write_text(textwrap.dedent(SERVED_APP))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        *(sys.executable, "-m", "uvicorn", "cors_app:app", "--host", "127.0.0.1"),
        *("--port", str(port), "--log-level", "warning", "--no-access-log"),
    ]
    with (
        serve(
            "uvicorn",
            command,
            port=port,
            cwd=tmp_path,
            env=clean_environment(tmp_path),
            log_path=tmp_path / "uvicorn.log",
            ready_path="/items",
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=30.0) as client,
    ):
        answer = client.options(
            "/items",
            headers={
                "origin": A,
                "access-control-request-method": "PUT",
                "access-control-request-headers": "content-type",
            },
        )
        actual = client.put("/items", headers={"origin": A})
        foreign = client.put("/items", headers={"origin": EVIL})
    assert answer.status_code == 204
    assert answer.headers[ACAO] == A and answer.headers[ACAC] == "true"
    assert answer.headers[ACAH] == "content-type"
    assert actual.json() == {"method": "PUT"} and actual.headers[ACAO] == A
    assert foreign.status_code == 403 and no_cors(foreign)  # refused by the CSRF check

"""Security headers; mirrors kettle/security/headers.py (SECURITY.md, "Defaults kettle ships")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kettle import Kettle, Request, Response, Router, SetupError, StreamingResponse
from kettle.pipeline import CallNext
from kettle.security import DEFAULT_CSP, SecurityHeaders, security_headers
from kettle.testing import TestClient
from tests.conftest import MakeApp

HELMET_CSP = (
    "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; form-action 'self'; "
    "frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; "
    "script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'; upgrade-insecure-requests"
)
HELMET = {
    "content-security-policy": HELMET_CSP,
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "origin-agent-cluster": "?1",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-dns-prefetch-control": "off",
    "x-download-options": "noopen",
    "x-frame-options": "SAMEORIGIN",
    "x-permitted-cross-domain-policies": "none",
    "x-xss-protection": "0",
}
API = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
}
HSTS = "max-age=31536000; includeSubDomains"
ALL_NAMES = {*HELMET, "strict-transport-security"}


def secured(make_app: MakeApp, headers: SecurityHeaders | None = None) -> Kettle:
    app = make_app()
    app.use(headers or SecurityHeaders())

    @app.get("/page")
    async def page(req: Request) -> str:
        return "<p>hi</p>"

    @app.get("/data")
    async def data(req: Request) -> dict[str, int]:
        return {"a": 1}

    @app.get("/stream")
    async def stream(req: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[str]:
            yield "<p>"
            yield "streamed</p>"

        return StreamingResponse(chunks())

    return app


def ours(response: Any) -> dict[str, str]:
    """The security headers of a response; every one of them must appear once."""
    found = {}
    for name in ALL_NAMES:
        values = response.headers.get_list(name)
        assert len(values) <= 1, (name, values)
        if values:
            found[name] = values[0]
    return found


@pytest.mark.parametrize("path", ["/page", "/stream"])
def test_html_responses_get_the_helmet_set(make_app: MakeApp, path: str) -> None:
    with TestClient(secured(make_app)) as client:
        response = client.get(path)
    assert response.status_code == 200
    assert ours(response) == HELMET
    assert "x-powered-by" not in response.headers


def test_json_responses_get_the_api_set(make_app: MakeApp) -> None:
    with TestClient(secured(make_app)) as client:
        response = client.get("/data")
    assert response.json() == {"a": 1}
    assert ours(response) == API


@pytest.mark.parametrize(("path", "expected"), [("/page", HELMET), ("/data", API)])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_hsts_only_over_https(
    make_app: MakeApp, path: str, expected: dict[str, str], scheme: str
) -> None:
    with TestClient(secured(make_app), base_url=f"{scheme}://testserver") as client:
        response = client.get(path)
    wanted = dict(expected)
    if scheme == "https":
        wanted["strict-transport-security"] = HSTS
    assert ours(response) == wanted


@pytest.mark.parametrize(
    ("path", "method", "status"), [("/nowhere", "GET", 404), ("/page", "POST", 405)]
)
def test_error_responses_pass_through_app_middleware(
    make_app: MakeApp, path: str, method: str, status: int
) -> None:
    with TestClient(secured(make_app)) as client:
        response = client.request(method, path)
    assert response.status_code == status
    kind = HELMET if response.headers["content-type"].startswith("text/html") else API
    assert ours(response) == kind


def test_a_header_the_handler_set_wins(make_app: MakeApp) -> None:
    app = make_app()
    app.use(SecurityHeaders())

    @app.get("/embed")
    async def embed(req: Request) -> Response:
        return Response(
            "<p>x</p>",
            media_type="text/html",
            headers={"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'"},
        )

    @app.get("/powered")
    async def powered(req: Request) -> Response:
        return Response("x", media_type="Text/HTML", headers={"X-Powered-By": "kettle"})

    with TestClient(app) as client:
        embed_response = client.get("/embed")
        powered_response = client.get("/powered")
    assert ours(embed_response) == {
        **HELMET,
        "x-frame-options": "DENY",
        "content-security-policy": "default-src 'none'",
    }
    # A content type in capitals is still a document; X-Powered-By never leaves.
    assert ours(powered_response) == HELMET
    assert "x-powered-by" not in powered_response.headers


def test_csp_mapping_merges_over_the_defaults(make_app: MakeApp) -> None:
    headers = SecurityHeaders(
        csp={
            "script-src": ["'self'", "https://cdn.example.com", "'nonce-r4nd0m'"],
            "upgrade-insecure-requests": None,
            "connect-src": "'self' wss://live.example.com",
            "img-src": ["'self'", "'sha256-AbCd+/09='"],
        }
    )
    with TestClient(secured(make_app, headers)) as client:
        csp = client.get("/page").headers["content-security-policy"]
    assert csp == (
        "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; "
        "form-action 'self'; frame-ancestors 'self'; img-src 'self' 'sha256-AbCd+/09='; "
        "object-src 'none'; script-src 'self' https://cdn.example.com 'nonce-r4nd0m'; "
        "script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'; "
        "connect-src 'self' wss://live.example.com"
    )


@pytest.mark.parametrize(
    ("options", "changed"),
    [
        (
            {"csp": "default-src 'none';  img-src  'self' "},
            {"content-security-policy": "default-src 'none'; img-src 'self'"},
        ),
        ({"csp": None}, {"content-security-policy": None}),
        ({"frame_options": "deny"}, {"x-frame-options": "DENY"}),
        ({"hsts": False}, {"strict-transport-security": None}),
        ({"hsts": 60}, {"strict-transport-security": "max-age=60; includeSubDomains"}),
        (
            {"referrer_policy": ["no-referrer", "strict-origin-when-cross-origin"]},
            {"referrer-policy": "no-referrer, strict-origin-when-cross-origin"},
        ),
        (
            {"coop": None, "corp": "cross-origin", "origin_agent_cluster": False},
            {
                "cross-origin-opener-policy": None,
                "cross-origin-resource-policy": "cross-origin",
                "origin-agent-cluster": None,
            },
        ),
        (
            {"xss_protection": False, "download_options": False, "dns_prefetch_control": "on"},
            {"x-xss-protection": None, "x-download-options": None, "x-dns-prefetch-control": "on"},
        ),
        ({"extra": {"Permissions-Policy": "camera=()"}}, {"permissions-policy": "camera=()"}),
    ],
)
def test_each_header_is_configurable(
    make_app: MakeApp, options: dict[str, Any], changed: dict[str, str | None]
) -> None:
    expected: dict[str, str | None] = {**HELMET, "strict-transport-security": HSTS, **changed}
    with TestClient(secured(make_app, SecurityHeaders(**options)), "https://testserver") as client:
        response = client.get("/page")
    found = ours(response)
    if "permissions-policy" in changed:
        found["permissions-policy"] = response.headers["permissions-policy"]
    assert found == {k: v for k, v in expected.items() if v is not None}


@pytest.mark.parametrize(
    ("api_headers", "expected"),
    [
        ("full", HELMET),
        (None, {}),
        ({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}, None),
    ],
)
def test_api_headers_setting(make_app: MakeApp, api_headers: Any, expected: Any) -> None:
    headers = SecurityHeaders(api_headers=api_headers)
    with TestClient(secured(make_app, headers), "https://testserver") as client:
        response = client.get("/data")
    if expected is None:
        assert response.headers["cache-control"] == "no-store"
        expected = {"x-content-type-options": "nosniff"}
    assert ours(response) == {**expected, "strict-transport-security": HSTS}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"csp": {"default-scr": ["'self'"]}}, "unknown CSP directive 'default-scr'"),
        ({"csp": {"default-scr": ["'self'"]}}, "did you mean 'default-src'"),
        ({"csp": {"script-src": ["'self"]}}, '"\'self" of script-src is missing a quote'),
        ({"csp": {"script-src": ["self'"]}}, "is missing a quote"),
        ({"csp": {"script-src": ["self"]}}, "must be quoted"),
        ({"csp": {"script-src": ["nonce-abc"]}}, "must be quoted"),
        ({"csp": {"script-src": ["'selff'"]}}, "unknown keyword \"'selff'\""),
        ({"csp": {"img-src": ["a.com;script-src"]}}, "contains ';'"),
        ({"csp": {"img-src": ["a.com,b.com"]}}, "contains ','"),
        ({"csp": {"img-src": ["a.com\nX-Evil: 1"]}}, "contains a newline"),
        ({"csp": {"img-src": "a.com\r\nX-Evil: 1"}}, "contain a newline"),
        ({"csp": {"img-src": ["a.com\tb.com"]}}, "a space or a non-ASCII"),
        ({"csp": {"img-src": ["caf\u00e9.example"]}}, "a space or a non-ASCII"),
        ({"csp": {"img-src": ["'none'", "'self'"]}}, "'none' in img-src cannot be combined"),
        ({"csp": {"upgrade-insecure-requests": ["'self'"]}}, "takes no sources"),
        ({"csp": {"sandbox": ["allow-everything"]}}, "unknown sandbox token"),
        ({"csp": {"Script-Src": ["'self'"]}}, "lower-case"),
        ({"csp": {"img-src": [42]}}, "must be strings"),
        ({"csp": "default-src 'self'\nX-Evil: 1"}, "contains a newline"),
        ({"csp": "default-src 'self'; default-src 'none'"}, "given twice"),
        ({"csp": "  ;  "}, "has no directives"),
        ({"csp": "defualt-src 'self'"}, "unknown CSP directive 'defualt-src'"),
        ({"csp": 42}, "csp= takes"),
        ({"frame_options": "ALLOW-FROM x"}, "frame_options= takes one of"),
        ({"coop": "same-orign"}, "coop= takes one of"),
        ({"referrer_policy": "no-referer"}, "unknown referrer_policy 'no-referer'"),
        ({"hsts": "max-age=abc"}, "hsts= takes"),
        ({"hsts": -1}, "cannot be negative"),
        ({"api_headers": {"X-Evil": "a\r\nb"}}, "bad header in api_headers="),
        ({"api_headers": "all"}, "api_headers= takes"),
        ({"extra": {"X-Evil": "a\nb"}}, "bad header in extra="),
    ],
)
def test_a_bad_setting_refuses_to_start(options: dict[str, Any], message: str) -> None:
    with pytest.raises(SetupError, match="SecurityHeaders: ") as info:
        SecurityHeaders(**options)
    assert message in str(info.value)


def test_default_csp_is_helmets() -> None:
    assert "; ".join(" ".join((k, *v)) for k, v in DEFAULT_CSP.items()) == HELMET_CSP


def build_scoped(make_app: MakeApp) -> Kettle:
    app = make_app()
    app_headers = SecurityHeaders(csp={"img-src": ["'self'", "https://img.example.com"]})
    app.use(app_headers)
    embeds = Router("embeds")
    embeds.use(security_headers(frame_options=None, api_headers=None))

    @embeds.get("/widget")
    async def widget(req: Request) -> str:
        return "<p>widget</p>"

    @embeds.get("/widget.json")
    async def widget_json(req: Request) -> dict[str, int]:
        return {"w": 1}

    @embeds.get(
        "/partner",
        middleware=[app_headers.replace(csp={"frame-ancestors": ["https://partner.example"]})],
    )
    async def partner(req: Request) -> str:
        return "<p>partner</p>"

    @app.get("/home")
    async def home(req: Request) -> str:
        return "<p>home</p>"

    app.mount("/embeds", embeds)
    return app


def test_router_and_route_instances_replace_the_app_headers(make_app: MakeApp) -> None:
    with TestClient(build_scoped(make_app)) as client:
        home = client.get("/home")
        widget = client.get("/embeds/widget")
        widget_json = client.get("/embeds/widget.json")
        partner = client.get("/embeds/partner")
        missing = client.get("/embeds/nothing")
    app_csp = HELMET_CSP.replace("img-src 'self' data:", "img-src 'self' https://img.example.com")
    assert ours(home) == {**HELMET, "content-security-policy": app_csp}
    # The router's instance starts from the defaults: the app's img-src is not inherited.
    without_frame = {k: v for k, v in HELMET.items() if k != "x-frame-options"}
    assert ours(widget) == without_frame
    assert ours(widget_json) == {}
    # The route's instance derives from the app's: its CSP merges over the app's CSP.
    partner_csp = app_csp.replace(
        "frame-ancestors 'self'", "frame-ancestors https://partner.example"
    )
    assert ours(partner) == {**HELMET, "content-security-policy": partner_csp}
    # A 404 under the router passes through the router's middleware too.
    assert missing.status_code == 404
    assert "x-frame-options" not in missing.headers


def test_a_new_response_from_a_middleware_between_is_dressed_again(make_app: MakeApp) -> None:
    app = make_app()
    app.use(SecurityHeaders())

    async def replace_response(req: Request, call_next: CallNext) -> Response:
        await call_next(req)
        return Response("<p>replaced</p>", media_type="text/html")

    app.use(replace_response)

    @app.get("/x", middleware=[security_headers(csp=None)])
    async def x(req: Request) -> str:
        return "<p>x</p>"

    with TestClient(app) as client:
        response = client.get("/x")
    # The route's instance dressed a response that was thrown away; the app's dresses the new one.
    assert response.text == "<p>replaced</p>"
    assert ours(response) == HELMET


def test_header_block_is_prebuilt_and_shared() -> None:
    headers = SecurityHeaders()
    assert headers.header_block(html=True, https=False) == [
        (name.encode(), value.encode()) for name, value in HELMET.items()
    ]
    https_block = headers.header_block(html=False, https=True)
    assert https_block[-1] == (b"strict-transport-security", HSTS.encode())
    # Each call is a copy: the caller cannot change what later requests get.
    https_block.clear()
    assert len(headers.header_block(html=False, https=True)) == 4


@pytest.mark.parametrize("https", [False, True])
def test_dress_answers_the_same_once_a_content_type_is_known(https: bool) -> None:
    # dress remembers each content-type pair's kind after the first response of that
    # type; every later response, of any shape, must get what the first one got.
    headers = SecurityHeaders()
    html_type = (b"content-type", b"text/html; charset=utf-8")
    text_type = (b"content-type", b"text/plain; charset=utf-8")
    length = (b"content-length", b"5")
    for _ in range(3):
        page, text = [html_type, length], [text_type, length]
        headers.dress(page, https)
        headers.dress(text, https)
        assert page[2:] == headers.header_block(html=True, https=https)
        assert text[2:] == headers.header_block(html=False, https=https)
        # Two pairs, but the second is the handler's own security header: it wins.
        own = [html_type, (b"x-frame-options", b"DENY")]
        headers.dress(own, https)
        assert [value for name, value in own if name == b"x-frame-options"] == [b"DENY"]
        assert len(own) == len(headers.header_block(html=True, https=https)) + 1

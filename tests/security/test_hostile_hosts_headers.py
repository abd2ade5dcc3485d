"""SECURITY.md, hostile inputs 39 to 44: hosts, proxies, headers, CSRF and CORS.

hostile_app trusts ``127.0.0.1``, ``localhost``, ``example.com`` and ``.example.org``; it
trusts no proxy, so the loopback peer of every test is an untrusted one.
"""

from __future__ import annotations

import asyncio

import pytest

from kettle import Request
from tests.conftest import MakeApp

from .conftest import (
    Hostile,
    Reply,
    call_scope,
    new_probe,
    reached,
    send,
)
from .hostile_app import CORS_ORIGIN


def answered_by_kettle(reply: Reply) -> bool:
    """Whether kettle wrote the response (it sends its security headers on every one)."""
    return reply.header("x-content-type-options") == "nosniff"


@pytest.mark.parametrize(
    "host",
    [
        "evil.com",
        "a@b",
        "",
        "x:99999",
        "127.0.0.1 evil.com",
        "127.0.0.1/x",
        "127.0.0.1@evil.com",
        "evil.com#127.0.0.1",
        "example.com.evil.com",
        "evilexample.org",
        "example.org..",
        "127.0.0.1:0",
        "127.0.0.1,evil.com",
    ],
)
def test_case_39_untrusted_or_malformed_host_is_400(server: Hostile, host: str) -> None:
    probe = new_probe()
    reply = send(server, "/whoami", host=host, probe=probe)
    assert reply.status == 400, reply
    assert not reached(server, probe)["handler"]
    assert b"evil" not in reply.body


@pytest.mark.parametrize(
    "host", ["example.com", "EXAMPLE.com:8080", "example.org", "api.example.org", "localhost"]
)
def test_case_39_control_trusted_hosts_are_served(server: Hostile, host: str) -> None:
    reply = send(server, "/whoami", host=host)
    assert reply.status == 200, reply
    assert reply.json()["url"] == f"http://{host}/whoami"


def test_case_39_a_second_host_header_is_400(server: Hostile) -> None:
    # RFC 9112: a server and a proxy could disagree on which Host counts.
    reply = send(server, "/whoami", headers=("Host: evil.com",))
    assert reply.status == 400, reply
    assert b"evil" not in reply.body


FORWARDED = (
    "X-Forwarded-For: 6.6.6.6",
    "X-Forwarded-Proto: https",
    "X-Forwarded-Host: example.com",
    "X-Forwarded-Port: 443",
    "Forwarded: for=6.6.6.6;proto=https;host=example.com",
    "X-Real-IP: 6.6.6.6",
)


@pytest.mark.parametrize("headers", [FORWARDED, FORWARDED[:3], FORWARDED[4:5]])
def test_case_40_forwarded_headers_from_an_untrusted_peer_are_ignored(
    server: Hostile, headers: tuple[str, ...]
) -> None:
    reply = send(server, "/whoami", headers=headers)
    assert reply.status == 200, reply
    assert reply.json() == {
        "client": "127.0.0.1",
        "scheme": "http",
        "host": "127.0.0.1",
        "url": "http://127.0.0.1/whoami",
    }


@pytest.mark.parametrize(
    ("peer", "believed"), [("10.1.2.3", True), ("192.0.2.7", False), ("127.0.0.1", False)]
)
def test_case_40_scope_forwarded_headers_only_from_trusted_proxies(
    make_app: MakeApp, peer: str, believed: bool
) -> None:
    # Raw scope: the peer address cannot be chosen over loopback.
    app = make_app(TRUSTED_PROXIES=["10.0.0.0/8"])

    @app.get("/whoami")
    async def whoami(req: Request) -> dict[str, str | None]:
        client = req.client
        return {"client": client.host if client else None, "scheme": req.scheme, "host": req.host}

    headers = [(b"host", b"testserver")]
    headers += [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-proto", b"https")]
    headers += [(b"x-forwarded-host", b"example.com")]
    reply = asyncio.run(call_scope(app, "/whoami", headers=headers, client=(peer, 4321)))
    assert reply.status == 200
    expected = (
        b'{"client":"6.6.6.6","scheme":"https","host":"example.com"}'
        if believed
        else f'{{"client":"{peer}","scheme":"http","host":"testserver"}}'.encode()
    )
    assert reply.body == expected


@pytest.mark.parametrize(
    "value",
    ["a%0D%0ASet-Cookie:%20evil=1", "a%0ASet-Cookie:%20evil=1", "a%0DX-Evil:%201", "a%00b"],
)
def test_case_41_crlf_in_a_response_header_is_an_error(server: Hostile, value: str) -> None:
    reply = send(server, f"/header?v={value}")
    assert reply.status == 500, reply
    assert reply.header("x-echo") is None
    assert reply.header_list("set-cookie") == []
    assert all(name not in ("evil", "x-evil") for name, _ in reply.headers)


@pytest.mark.parametrize("target", ["/x%0D%0ASet-Cookie:%20evil=1", "/x%0D%0A%0D%0A%3Cscript%3E"])
def test_case_41_crlf_in_a_redirect_target_is_encoded(server: Hostile, target: str) -> None:
    reply = send(server, f"/go?to={target}")
    assert reply.status == 302, reply
    location = reply.header("location") or ""
    assert "\r" not in location and "\n" not in location
    assert location.startswith("/x%0D%0A")
    assert reply.header_list("set-cookie") == []


HEADER_FLOODS = {
    "10000-headers": tuple(f"X-H{i}: v" for i in range(10_000)),
    "1mb-header": ("X-Big: " + "a" * (1 << 20),),
    "1mb-of-headers": tuple(f"X-Big{i}: " + "a" * 1000 for i in range(1000)),
}


@pytest.mark.parametrize("flood", list(HEADER_FLOODS))
def test_case_42_header_floods_are_refused_before_the_handler(
    server: Hostile, flood: str, request: pytest.FixtureRequest
) -> None:
    probe = new_probe()
    # The probe goes first, so an app that was called would have seen it.
    reply = send(server, "/echo", headers=HEADER_FLOODS[flood], probe=probe)
    assert reply.status in (400, 431), reply
    state = reached(server, probe)
    assert not state["handler"]
    if not answered_by_kettle(reply):
        assert not state["app"]  # the server refused it alone


CSRF_REFUSED = [
    ("Sec-Fetch-Site: cross-site",),
    ("Sec-Fetch-Site: same-site",),
    ("Origin: http://evil.com",),
    ("Origin: null",),
    ("Origin: http://127.0.0.1:8080",),
    ("Origin: https://127.0.0.1",),
    ("Origin: http://127.0.0.1.evil.com",),
    ("Sec-Fetch-Site: cross-site", "Origin: http://127.0.0.1"),
]
CSRF_ALLOWED = [
    (),
    ("Sec-Fetch-Site: same-origin",),
    ("Sec-Fetch-Site: none",),
    ("Origin: http://127.0.0.1",),
]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
@pytest.mark.parametrize("headers", CSRF_REFUSED)
def test_case_43_cross_site_unsafe_request_is_403(
    server: Hostile, method: str, headers: tuple[str, ...]
) -> None:
    probe = new_probe()
    reply = send(server, "/echo", method, headers, b"x=1", probe=probe)
    assert reply.status == 403, reply
    assert not reached(server, probe)["handler"]


@pytest.mark.parametrize("headers", CSRF_ALLOWED)
def test_case_43_same_origin_or_non_browser_request_passes(
    server: Hostile, headers: tuple[str, ...]
) -> None:
    reply = send(server, "/echo", "POST", headers, b"x=1")
    assert (reply.status, reply.body) == (200, b"POST reached the handler")


@pytest.mark.parametrize("headers", CSRF_REFUSED)
def test_case_43_safe_methods_pass(server: Hostile, headers: tuple[str, ...]) -> None:
    reply = send(server, "/echo", "GET", headers)
    assert (reply.status, reply.body) == (200, b"GET reached the handler")


CREDENTIALED = "Cookie: session=abc"


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://evilapp.example.com",
        "null",
        "https://app.example.com/",
    ],
)
def test_case_44_cors_from_an_unlisted_origin_gets_no_allow_origin(
    server: Hostile, origin: str
) -> None:
    reply = send(server, "/cors", headers=(f"Origin: {origin}", CREDENTIALED))
    assert reply.status == 200, reply
    assert reply.header("access-control-allow-origin") is None
    assert reply.header("access-control-allow-credentials") is None
    assert "origin" in (reply.header("vary") or "").lower()
    preflight = send(
        server,
        "/cors",
        "OPTIONS",
        (f"Origin: {origin}", "Access-Control-Request-Method: GET", CREDENTIALED),
    )
    assert preflight.header("access-control-allow-origin") is None
    assert preflight.status in (200, 204, 400, 403), preflight


def test_case_44_control_the_listed_origin_is_echoed(server: Hostile) -> None:
    reply = send(server, "/cors", headers=(f"Origin: {CORS_ORIGIN}", CREDENTIALED))
    assert reply.header("access-control-allow-origin") == CORS_ORIGIN
    assert reply.header("access-control-allow-credentials") == "true"
    assert "origin" in (reply.header("vary") or "").lower()

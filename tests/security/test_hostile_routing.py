"""SECURITY.md, hostile inputs 1 to 7: routing.

Raw request lines to uvicorn and granian; where a server refuses the request itself (its
own 400 or 414), that is a safe answer too, as long as no handler ran. Inputs a server
would normalise or refuse before kettle sees them are also sent as raw ASGI scopes, the
way a more permissive server would pass them on.
"""

from __future__ import annotations

import asyncio
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from kettle import Request
from tests.conftest import MakeApp, call_raw

from .conftest import Hostile, ServerPool, call_scope, new_probe, reached, send
from .hostile_app import ADMIN_SECRET

#: Answers a server gives by itself to a request line it will not pass on.
SERVER_REFUSALS = (400, 414, 431)


@pytest.mark.parametrize(
    "target",
    [
        "/a/..%2f..%2fadmin",
        "/a/%2e%2e/admin",
        "/a/%2E%2E/admin",
        "/a/..%2fadmin",
        "/a/%2e%2e%2fadmin",
        "/a/../admin",
        "/a/.%2e/admin",
    ],
)
def test_case_01_encoded_dot_segments_never_reach_admin(server: Hostile, target: str) -> None:
    probe = new_probe()
    reply = send(server, target, probe=probe)
    assert reply.status == 404, reply
    assert ADMIN_SECRET.encode() not in reply.body
    assert not reached(server, probe)["handler"]


def test_case_01_control_admin_exists(server: Hostile) -> None:
    reply = send(server, "/admin")
    assert (reply.status, reply.body) == (200, ADMIN_SECRET.encode())


@pytest.mark.parametrize(
    "target", ["/" + "a" * 65536, "/files" + "/a" * 10_000, "/x" + "/a" * 10_000]
)
def test_case_02_huge_path_or_10000_segments_is_414_or_404(server: Hostile, target: str) -> None:
    probe = new_probe()
    reply = send(server, target, probe=probe)
    # 414 from kettle (MAX_PATH_LENGTH) or the server; uvicorn's parser says 400 at 64 KB.
    assert reply.status in (404, 414) or reply.status in SERVER_REFUSALS, reply
    assert not reached(server, probe)["handler"]


def test_case_02_10000_segments_are_routed_when_the_limit_allows(make_app: MakeApp) -> None:
    # Raw scope: with MAX_PATH_LENGTH raised, 10,000 segments really go through the trie.
    app = make_app(MAX_PATH_LENGTH=100_000)
    hits: list[str] = []

    @app.get("/a/<x>/<y>/<int:z>")
    async def deep(req: Request, x: str, y: str, z: int) -> str:
        hits.append(req.path)
        return "deep"

    @app.get("/files/<path:rest>")
    async def files(req: Request, rest: str) -> dict[str, int]:
        return {"segments": rest.count("/") + 1}

    status, _ = asyncio.run(call_raw(app, "/a" * 10_000))
    assert status == 404
    status, body = asyncio.run(call_raw(app, "/files" + "/a" * 10_000))
    assert (status, body) == (200, b'{"segments":10000}')
    assert hits == []


@pytest.mark.parametrize(
    "target",
    [
        "/%00",
        "/a/%00",
        "/admin%00",
        "/static/%00",
        "/%ff",
        "/static/%ff",
        "/static/%c0%af",
        "/a/%c0%ae%c0%ae/admin",
        "/a/%ff",
        "/a/%c0%af",
    ],
)
def test_case_03_nul_and_invalid_utf8_in_the_path_is_400_or_404(
    server: Hostile, target: str
) -> None:
    probe = new_probe()
    reply = send(server, target, probe=probe)
    assert reply.status in (400, 404), reply
    assert not reached(server, probe)["handler"]


@pytest.mark.parametrize("raw", [b"/a/%ff", b"/a/%c0%af", b"/a/%ed%a0%80"])
def test_case_03_scope_with_lossy_decoded_path_is_400(make_app: MakeApp, raw: bytes) -> None:
    # Raw scope: what uvicorn and granian build for these paths (U+FFFD for each bad byte).
    app = make_app()

    @app.get("/a/<name>")
    async def a_name(req: Request, name: str) -> str:
        return name

    # unquote() replaces undecodable bytes with U+FFFD, as uvicorn does.
    reply = asyncio.run(call_scope(app, unquote(raw.decode("ascii")), raw_path=raw))
    assert reply.status == 400


@pytest.mark.parametrize("method", ["FOO", "__init__", "__call__", "_dispatch"])
@pytest.mark.parametrize("target", ["/echo", "/admin", "/nowhere"])
def test_case_04_unknown_method_is_405_or_refused(
    server: Hostile, method: str, target: str
) -> None:
    """No attribute-based dispatch (Starlette GHSA-x746-7m8f-x49c)."""
    probe = new_probe()
    reply = send(server, target, method=method, probe=probe)
    # uvicorn's parser knows the registered methods only and answers 400 itself.
    expected = (405, 501, 404) if target == "/nowhere" else (405, 501)
    assert reply.status in expected or (server.name == "uvicorn" and reply.status == 400), reply
    assert not reached(server, probe)["handler"]


@pytest.mark.parametrize("method", ["FOO", "__init__", "__call__", "get", "GET\x00"])
def test_case_04_scope_with_unknown_method_is_405(make_app: MakeApp, method: str) -> None:
    app = make_app()
    hits: list[str] = []

    @app.route("/thing", methods=["GET", "POST"])
    async def thing(req: Request) -> str:
        hits.append(req.method)
        return "thing"

    status, _ = asyncio.run(call_raw(app, "/thing", method=method))
    assert status in (405, 501)
    assert hits == []


@pytest.mark.parametrize(
    "target", ["@evil.com", "@evil.com/x", "http://evil.com/whoami", "http://evil.com@x/whoami"]
)
def test_case_05_raw_target_keeps_the_trusted_host(server: Hostile, target: str) -> None:
    """GHSA-jp82-jpqv-5vv3: the URL is built from the Host header, never from the target."""
    reply = send(server, target)
    if reply.status in SERVER_REFUSALS and reply.header("x-frame-options") is None:
        return  # the server refused the request line itself
    assert reply.status in (200, 404), reply
    data = reply.json()
    url_host = urlsplit(data["url"]).hostname if "url" in data else data["url_host"]
    assert url_host == "127.0.0.1", data


@pytest.mark.parametrize("target", ["@evil.com", "@evil.com/x"])
def test_case_05_hypercorn_passes_the_raw_target_and_kettle_keeps_the_host(
    server_pool: ServerPool, target: str
) -> None:
    # hypercorn hands "@evil.com" to the app as the path: kettle alone stands in the way.
    reply = send(server_pool.get("hypercorn"), target)
    assert reply.status == 404, reply
    assert reply.json()["url_host"] == "127.0.0.1"


@pytest.mark.parametrize("path", ["@evil.com", "@evil.com/x", ":@evil.com", "*"])
def test_case_05_scope_path_without_slash_keeps_the_host(make_app: MakeApp, path: str) -> None:
    app = make_app()

    @app.errorhandler(404)
    def not_found(req: Request, exc: Exception) -> tuple[str, int]:
        return str(req.url.hostname), 404

    status, body = asyncio.run(call_raw(app, path))
    assert (status, body) == (404, b"testserver")


@pytest.mark.parametrize(
    "target",
    ["//evil.com", "//evil.com/", "///evil.com", "/\\evil.com", "/%2fevil.com", "/%5cevil.com"],
)
def test_case_06_slash_redirect_is_never_scheme_relative(server: Hostile, target: str) -> None:
    reply = send(server, target)
    location = reply.header("location")
    if location is not None:
        assert not location.replace("\\", "/").startswith("//"), location
        assert urlsplit(urljoin("http://127.0.0.1/", location)).hostname == "127.0.0.1"
    assert reply.status in (400, 404) or reply.status in (301, 308), reply


def test_case_06_control_ordinary_slash_redirect(server: Hostile) -> None:
    reply = send(server, "/evil.com")
    assert (reply.status, reply.header("location")) == (308, "/evil.com/")


def test_case_07_100000_query_parameters_never_reach_the_handler(server: Hostile) -> None:
    probe = new_probe()
    reply = send(server, "/query?" + "a&" * 100_000, probe=probe)
    # Both servers refuse a 200 KB request line (400, 414) before kettle could.
    assert reply.status in (400, 413) or reply.status in SERVER_REFUSALS, reply
    assert not reached(server, probe)["app"]


def test_case_07_scope_with_100000_query_parameters_is_400(make_app: MakeApp) -> None:
    # Raw scope: both servers refuse a 200 KB request line before kettle would see it.
    app = make_app()

    @app.get("/query")
    async def query(req: Request) -> dict[str, int]:
        return {"count": len(req.query)}

    status, _ = asyncio.run(call_raw(app, "/query", query=b"a&" * 100_000))
    assert status in (400, 413)
    status, _ = asyncio.run(call_raw(app, "/query", query=b"a=1&" * 100_000))
    assert status in (400, 413)


def test_case_07_prototype_style_keys_stay_flat(server: Hostile) -> None:
    target = "/query?a[__proto__]=1&a[b][c]=2&__proto__[x]=3&constructor.prototype=4"
    reply = send(server, target)
    assert reply.status == 200, reply
    assert reply.json() == {
        "pairs": [
            ["a[__proto__]", "1"],
            ["a[b][c]", "2"],
            ["__proto__[x]", "3"],
            ["constructor.prototype", "4"],
        ]
    }

"""Redirects to user-supplied targets; mirrors kettle/redirects.py (SECURITY.md 45-46)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from kettle import Kettle, Request
from kettle.redirects import is_safe_url, safe_redirect
from kettle.responses import RedirectResponse
from kettle.testing import TestClient

from .conftest import MakeApp

HOSTILE = [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "http://evil.example/",
    "https://ok@evil.example",
    "https://testserver@evil.example",
    "https://testserver:pw@evil.example/",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "\t//evil.example",
    "/\t/evil.example",
    "\n//evil.example",
    "/\r\n/evil.example",
    "\x00//evil.example",
    "/\x00",
    "/\x7f",
    "/\x85",
    " //evil.example",
    "evil.example",
    "evil.example/login",
    "?next=//evil.example",
    "#frag",
    "",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_are_refused(target: str) -> None:
    assert not is_safe_url(target)
    # Naming the site's host changes nothing for these: none is an absolute URL to it.
    assert not is_safe_url(target, host="testserver")


@pytest.mark.parametrize(
    "target",
    ["/", "/account", "/account?tab=keys&x=1", "/a/b#top", "/%2F/x", "/caf\u00e9", "/a:b"],
)
def test_paths_on_this_site_pass(target: str) -> None:
    assert is_safe_url(target)


@pytest.mark.parametrize(
    ("target", "host", "safe"),
    [
        ("https://testserver/account", "testserver", True),
        ("http://TestServer/", "testserver", True),
        ("https://testserver:8443/x", "testserver:8443", True),
        ("https://testserver/account", None, False),  # absolute URLs need a trusted host
        ("https://testserver:8443/x", "testserver", False),
        ("https://testserver.evil.example/", "testserver", False),
        ("https://evil.example/", "testserver", False),
        ("https://testserver@evil.example/", "testserver", False),
        ("https://user@testserver/", "testserver", False),  # no credentials in the URL
        ("ftp://testserver/", "testserver", False),
        # Browsers read it as testserver, but the redirect encodes the backslash, and
        # "https://testserver%5C@evil.example/" goes to evil.example.
        ("https://testserver\\@evil.example/", "testserver", False),
        ("https://testserver\\x", "testserver", False),
        ("https://[testserver/", "testserver", False),  # malformed: urlsplit refuses it
    ],
)
def test_absolute_urls_only_to_the_given_host(target: str, host: str | None, safe: bool) -> None:
    assert is_safe_url(target, host) is safe


@pytest.mark.parametrize("target", [None, 42, b"/bytes"])
def test_non_strings_are_refused(target: object) -> None:
    assert not is_safe_url(target)  # type: ignore[arg-type]


def _app(make_app: MakeApp) -> Kettle:
    app = make_app()

    @app.route("/go", methods=["GET", "POST"])
    async def go(req: Request) -> RedirectResponse:
        return safe_redirect(req.query.get("next"), fallback="/home")

    @app.get("/go-absolute")
    async def go_absolute(req: Request) -> RedirectResponse:
        return safe_redirect(req.query.get("next"), host="testserver", status=302)

    return app


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_redirect_sends_hostile_next_to_the_fallback(make_app: MakeApp, target: str) -> None:
    with TestClient(_app(make_app)) as client:
        response = client.get("/go", params={"next": target})
    assert response.status_code == 303
    assert response.headers["location"] == "/home"


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/account?tab=keys", "/account?tab=keys"),
        ("/a b", "/a%20b"),
        # A backslash stays inside the path, percent-encoded: never read as a slash.
        ("/a\\b", "/a%5Cb"),
    ],
)
def test_safe_redirect_follows_paths(make_app: MakeApp, target: str, location: str) -> None:
    with TestClient(_app(make_app)) as client:
        response = client.post("/go", params={"next": target})
    assert response.status_code == 303
    assert response.headers["location"] == location


def test_safe_redirect_without_a_target_uses_the_fallback(make_app: MakeApp) -> None:
    with TestClient(_app(make_app)) as client:
        assert client.get("/go").headers["location"] == "/home"


def test_absolute_url_to_the_own_host_when_allowed(make_app: MakeApp) -> None:
    with TestClient(_app(make_app)) as client:
        ok = client.get("/go-absolute", params={"next": "http://testserver/x"})
        evil = client.get("/go-absolute", params={"next": "http://evil.example/x"})
    assert (ok.status_code, ok.headers["location"]) == (302, "http://testserver/x")
    assert evil.headers["location"] == "/"


def test_script_in_the_target_is_escaped_in_the_body(make_app: MakeApp) -> None:
    # SECURITY.md 46 (Express CVE-2024-43796): the target is same-site, so it is followed,
    # but neither the Location nor the HTML body carries live markup.
    target = '/x"><script>alert(1)</script>'
    with TestClient(_app(make_app)) as client:
        response = client.get("/go", params={"next": target})
    location = response.headers["location"]
    assert location == quote(target, safe="/:%#?=@[]!$&'()*+,;~")
    assert "<script>" not in response.text and '">' not in location
    assert response.headers["content-type"].startswith("text/html")

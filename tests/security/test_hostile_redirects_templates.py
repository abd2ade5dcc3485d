"""SECURITY.md, hostile inputs 45 to 49: redirects, templates and error pages."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from .conftest import Hostile, get_json, send
from .hostile_app import BOOM_DETAIL, LEAK


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "https:evil.com",
        "\t//evil.com",
        "/\t/evil.com",
        " //evil.com",
        "javascript:alert(1)",
        "java\nscript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://ok@evil.com",
        "https://127.0.0.1@evil.com",
        "http://evil.com",
        "evil.com",
        "///evil.com",
        "",
    ],
)
def test_case_45_unsafe_redirect_targets_fall_back(server: Hostile, target: str) -> None:
    reply = send(server, "/next?to=" + quote(target, safe=""))
    assert (reply.status, reply.header("location")) == (303, "/home"), reply


@pytest.mark.parametrize("target", ["/account?tab=keys", "/a/b#frag", "/%2F/x"])
def test_case_45_control_local_paths_are_kept(server: Hostile, target: str) -> None:
    reply = send(server, "/next?to=" + quote(target, safe=""))
    assert (reply.status, reply.header("location")) == (303, target), reply


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/go", "/<script>alert(1)</script>"),
        ("/go", '/x"><script>alert(1)</script>'),
        ("/go", "javascript:'<img src=x onerror=alert(1)>'"),
        ("/next", "/<script>alert(1)</script>"),
        ("/next", "/x'\"><svg onload=alert(1)>"),
    ],
)
def test_case_46_script_in_a_redirect_url_is_escaped_in_the_body(
    server: Hostile, path: str, target: str
) -> None:
    """Express CVE-2024-43796: the HTML body of a redirect must escape its URL."""
    reply = send(server, f"{path}?to=" + quote(target, safe=""))
    assert reply.status in (302, 303), reply
    body = reply.body.lower()
    assert b"<script" not in body and b"<svg" not in body and b"<img" not in body
    assert b'"><' not in body
    location = reply.header("location") or ""
    assert not re.search(r'[<>" ]', location), location  # "'" is legal in a URL


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("<script>alert(1)</script>", '"onmouseover=alert(1) x="'),
        ("</p><img src=x onerror=alert(1)>", "' autofocus onfocus=alert(1) '"),
        ("{{ 7*7 }}", "{% raw %}"),
    ],
)
def test_case_47_template_variables_are_escaped(server: Hostile, name: str, title: str) -> None:
    reply = send(server, f"/page?name={quote(name, safe='')}&title={quote(title, safe='')}")
    assert reply.status == 200, reply
    body = reply.body.decode()
    assert "<script" not in body and "<img" not in body
    # The attribute stays one attribute: its quotes are escaped.
    assert body.count('"') == 2, body
    assert "'" not in body
    assert "49" not in body  # a variable is data, never a template


@pytest.mark.parametrize(
    "name",
    [
        "../secret.txt",
        "../hostile_app.py",
        "..\\secret.txt",
        "page.html/../../secret.txt",
        "./../secret.txt",
        "/etc/passwd",
        "ABSOLUTE",
        "%2e%2e/secret.txt",
        "",
    ],
)
def test_case_48_template_name_outside_the_folder_is_not_found(server: Hostile, name: str) -> None:
    if name == "ABSOLUTE":
        name = str(server.root / "secret.txt")
    before = len(get_json(server, "/audit")["opens"])
    reply = send(server, "/render?name=" + quote(name, safe=""))
    assert reply.status == 404, reply
    assert LEAK.encode() not in reply.body and b"root:x:" not in reply.body
    assert get_json(server, "/audit")["opens"][before:] == []


def test_case_48_control_a_real_template_renders(server: Hostile) -> None:
    reply = send(server, "/render?name=page.html")
    assert (reply.status, reply.body) == (200, b'<p title=""></p>')


@pytest.mark.parametrize("accept", ["text/html", "application/json", "*/*"])
def test_case_49_exception_text_stays_out_of_the_500_page(server: Hostile, accept: str) -> None:
    reply = send(server, "/boom", headers=(f"Accept: {accept}",))
    assert reply.status == 500, reply
    body = reply.body.decode()
    for leaked in (BOOM_DETAIL, "boom-detail", "secret detail", "RuntimeError", "Traceback"):
        assert leaked not in body
    request_id = reply.header("x-request-id")
    assert request_id and re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", request_id), reply
    assert request_id in body
    # The server's log holds the traceback beside the same id.
    assert server.server.wait_for_log(request_id), server.log()
    log = server.log()
    after = log[log.index(request_id) :]
    assert "Traceback" in after and "boom-detail" in after


def test_case_49_a_hostile_request_id_is_not_echoed(server: Hostile) -> None:
    sent = "<script>alert(1)</script>"
    reply = send(server, "/boom", headers=(f"X-Request-ID: {sent}", "Accept: text/html"))
    assert reply.status == 500, reply
    assert reply.header("x-request-id") not in (None, sent)
    assert b"<script" not in reply.body

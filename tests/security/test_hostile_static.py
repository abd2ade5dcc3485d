"""SECURITY.md, hostile inputs 31 to 38: static files.

The static folder is ``ROOT/static``; beside it lie ``static_secret/`` (a sibling sharing
the prefix), ``outside/`` (a symlink's target) and ``secret.txt``. An audit hook in the
server records every ``open()`` of those, so "no ``open()`` outside the root" is checked,
not assumed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .conftest import MULTIPART_TYPE, Hostile, get_json, send
from .hostile_app import LEAK

MAX_RANGES = 16  # kettle's cap on ranges per request (SECURITY.md: "ranges capped")


@pytest.fixture
def no_forbidden_open(server: Hostile) -> Iterator[None]:
    """The test must not make the server open a file outside what it may serve."""
    before = len(get_json(server, "/audit")["opens"])
    yield
    assert get_json(server, "/audit")["opens"][before:] == []


def assert_not_served(server: Hostile, target: str) -> None:
    reply = send(server, target)
    # Invalid UTF-8 (an overlong "/") may be refused as a bad path before routing.
    assert reply.status == 404 or (reply.status == 400 and "%c0" in target), reply
    assert LEAK.encode() not in reply.body and b"root:x:" not in reply.body
    assert b"Traceback" not in reply.body


@pytest.mark.usefixtures("no_forbidden_open")
@pytest.mark.parametrize(
    "target",
    [
        "/static/..%2f..%2fetc/passwd",
        "/static/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/..%2fsecret.txt",
        "/static/..%5csecret.txt",
        "/static/..%5c..%5cetc%5cpasswd",
        "/static/%2e%2e/secret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/sub/..%2f..%2fsecret.txt",
        "/static/..%c0%afsecret.txt",
        "/static/../secret.txt",
        "/static/./../secret.txt",
    ],
)
def test_case_31_traversal_out_of_the_static_root_is_404(server: Hostile, target: str) -> None:
    assert_not_served(server, target)


@pytest.mark.usefixtures("no_forbidden_open")
@pytest.mark.parametrize(
    "target",
    [
        "/static/../static_secret/x",
        "/static/..%2fstatic_secret/x",
        "/static/%2e%2e/static_secret/x",
        "/static-follow/..%2fstatic_secret/x",
        "/static_secret/x",
    ],
)
def test_case_32_sibling_folder_sharing_the_prefix_is_404(server: Hostile, target: str) -> None:
    """CVE-2023-29159: ``/static_secret`` starts with ``/static`` but is not inside it."""
    assert_not_served(server, target)


@pytest.mark.usefixtures("no_forbidden_open")
@pytest.mark.parametrize(
    "target",
    [
        "/static//etc/passwd",
        "/static/%2fetc/passwd",
        "/static/C:/Windows/win.ini",
        "/static/C:%5cWindows%5cwin.ini",
        "/static/c:win.ini",
        "/static/%5c%5chost%5cshare%5cx",
        "/static/\\\\host\\share\\x",
        "ABSOLUTE",
    ],
)
def test_case_33_absolute_drive_and_unc_paths_are_404(server: Hostile, target: str) -> None:
    if target == "ABSOLUTE":  # the real absolute path of a file that exists
        target = "/static/" + str(server.root / "secret.txt")
    assert_not_served(server, target)


@pytest.mark.usefixtures("no_forbidden_open")
def test_case_34_symlink_out_of_the_root_is_404(server: Hostile) -> None:
    assert_not_served(server, "/static/link-out")


def test_case_34_symlinks_inside_or_explicitly_allowed_are_served(server: Hostile) -> None:
    assert send(server, "/static/link-in").body == b"hello from static\n"
    # follow_symlinks=True on /static-follow: the app allowed it explicitly. This is also
    # the audit hook's control: the open() out of the root is recorded.
    before = len(get_json(server, "/audit")["opens"])
    reply = send(server, "/static-follow/link-out")
    assert (reply.status, reply.body) == (200, f"{LEAK} outside the root\n".encode())
    opened = get_json(server, "/audit")["opens"][before:]
    assert opened == [os.path.realpath(server.root / "outside" / "secret.txt")]


@pytest.mark.usefixtures("no_forbidden_open")
@pytest.mark.parametrize(
    "target",
    [
        "/static/%00",
        "/static/hello.txt%00",
        "/static/hello.txt%00.png",
        "/static/" + "a" * 5000,
        "/static/" + "a/" * 2500 + "b",
        "/static/sub",
        "/static/sub/",
        "/static/fifo",
        "/static/does-not-exist.txt",
    ],
)
def test_case_35_nul_long_names_directories_and_special_files(server: Hostile, target: str) -> None:
    reply = send(server, target)
    # A FIFO must be refused before anything opens it: an open() would block forever.
    assert reply.status in (400, 404), reply
    assert b"Traceback" not in reply.body


def test_case_35_unreadable_file_is_403_or_404(server: Hostile) -> None:
    reply = send(server, "/static/locked.txt")
    assert b"Traceback" not in reply.body
    if os.geteuid() == 0:
        # The servers run as this user; root reads a mode-000 file like any other.
        assert (reply.status, reply.body) == (200, b"locked file\n")
    else:
        assert reply.status in (403, 404), reply


@pytest.mark.usefixtures("no_forbidden_open")
@pytest.mark.parametrize(
    "target",
    [
        "/static/.env",
        "/static/%2eenv",
        "/static/.git/config",
        "/static/.git%2fconfig",
        "/static/%2egit/config",
        "/static/sub/../.env",
        "/static/sub/..%2f.env",
        "/static-follow/.env",
    ],
)
def test_case_36_dotfiles_are_404(server: Hostile, target: str) -> None:
    assert_not_served(server, target)


def _count_parts(body: bytes, content_type: str) -> int:
    boundary = content_type.split("boundary=", 1)[1].encode()
    return body.count(b"--" + boundary) - 1  # the closing delimiter is one more


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(",".join(f"{i}-{i}" for i in range(10_000)), id="10000-ranges"),
        pytest.param(",".join(["0-9999"] * MAX_RANGES), id="16-overlapping-whole-file"),
        pytest.param(",".join(["0-9999"] * 1000), id="1000-overlapping-whole-file"),
        pytest.param("-" + "9" * 40, id="huge-suffix"),
        pytest.param("0-" + "9" * 40, id="huge-end"),
        pytest.param("9" * 40 + "-", id="huge-start"),
        pytest.param("abc", id="garbage"),
        pytest.param("5-1", id="backwards"),
        pytest.param("," * 20_000, id="commas"),
        pytest.param("0-0," * 20_000, id="trailing-commas"),
        pytest.param("-0", id="empty-suffix"),
    ],
)
def test_case_37_hostile_range_headers_are_capped(server: Hostile, value: str) -> None:
    """Starlette CVE-2025-62727: Range parsing must stay linear and the parts capped."""
    reply = send(server, "/static/ranges.txt", headers=(f"Range: bytes={value}",))
    if reply.status == 431:
        return  # a 90 KB header: refused as too large (by the server or kettle), fine
    assert reply.status in (200, 206, 416), reply
    content_type = reply.header("content-type") or ""
    if reply.status == 206 and content_type.startswith("multipart/byteranges"):
        assert 2 <= _count_parts(reply.body, content_type) <= MAX_RANGES
    assert len(reply.body) <= MAX_RANGES * 10_000 + 4096


@pytest.mark.parametrize(("count", "status"), [(MAX_RANGES, 206), (MAX_RANGES + 1, 200)])
def test_case_37_disjoint_ranges_are_capped(server: Hostile, count: int, status: int) -> None:
    value = ",".join(f"{i * 100}-{i * 100 + 9}" for i in range(count))
    reply = send(server, "/static/ranges.txt", headers=(f"Range: bytes={value}",))
    assert reply.status == status, reply
    if status == 206:
        assert _count_parts(reply.body, reply.header("content-type") or "") == MAX_RANGES
    else:
        assert reply.body == b"0123456789" * 1000


def test_case_37_control_a_plain_range_is_206(server: Hostile) -> None:
    reply = send(server, "/static/ranges.txt", headers=("Range: bytes=10-19",))
    assert (reply.status, reply.body) == (206, b"0123456789")
    assert reply.header("content-range") == "bytes 10-19/10000"


@pytest.mark.parametrize("name", ["evil.html", "evil.svg"])
def test_case_38_uploaded_html_and_svg_are_attachments(server: Hostile, name: str) -> None:
    reply = send(server, f"/uploads/{name}")
    assert reply.status == 200, reply
    assert reply.header("x-content-type-options") == "nosniff"
    assert (reply.header("content-disposition") or "").startswith("attachment")


def test_case_38_html_uploaded_through_the_app_comes_back_as_attachment(server: Hostile) -> None:
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="../page.html"\r\n'
        "Content-Type: text/html\r\n\r\n"
        "<script>alert(document.cookie)</script>\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    saved = send(server, "/upload-save", "POST", (MULTIPART_TYPE + boundary,), body).json()
    assert saved == {"filename": "../page.html", "saved": "uploads/page.html"}
    reply = send(server, "/uploads/page.html")
    assert reply.status == 200, reply
    assert reply.header("x-content-type-options") == "nosniff"
    assert (reply.header("content-disposition") or "").startswith("attachment")

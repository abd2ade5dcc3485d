"""SECURITY.md, hostile inputs 16 to 25: multipart (and urlencoded) forms.

Bodies are built by hand, byte for byte. A limit "at part N" is shown by declaring a body
that is never sent in full: the answer comes while the client is still mid-body.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterable

import pytest

from .conftest import Hostile, build, connect, get_json, new_probe, read_reply, send
from .hostile_app import UPLOAD_LIMIT

BOUNDARY = "hostile-boundary-7d1"
MULTIPART = f"Content-Type: multipart/form-data; boundary={BOUNDARY}"
MiB = 1024 * 1024


def part(name: str | None, data: bytes = b"", filename: str | None = None, *extra: str) -> bytes:
    """One multipart part (without its boundary line)."""
    disposition = "form-data" if name is None else f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = [f"Content-Disposition: {disposition}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data


def multipart(parts: Iterable[bytes], *, end: bool = True) -> bytes:
    """``parts`` framed by :data:`BOUNDARY`; without ``end`` the closing line is left out."""
    delimiter = f"--{BOUNDARY}\r\n".encode()
    body = b"".join(delimiter + p + b"\r\n" for p in parts)
    return body + (f"--{BOUNDARY}--\r\n".encode() if end else b"")


def post_partially(
    target: Hostile, path: str, body_start: bytes, declared: int
) -> tuple[int, bytes]:
    """Declare ``declared`` bytes of multipart body, send only ``body_start``; the reply."""
    head = build("POST", path, (MULTIPART, f"Content-Length: {declared}"), close=False)
    with connect(target) as sock:
        sock.sendall(head + body_start)
        reply = read_reply(sock, "POST")
    return reply.status, reply.body


def temp_files(target: Hostile) -> int:
    """Upload temporary files the server process holds open right now."""
    count: int = get_json(target, "/temp-files")["open"]
    return count


def wait_for_temp_files(target: Hostile, wanted: int, timeout: float = 15.0) -> int:
    """Poll until the server holds ``wanted`` temp files (or ``timeout`` passes); the count."""
    deadline = time.monotonic() + timeout
    while (count := temp_files(target)) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


@pytest.mark.parametrize("kind", ["fields", "files"])
def test_case_16_part_1001_is_413_before_the_body_ends(server: Hostile, kind: str) -> None:
    """Starlette CVE-2023-30798: a form of a thousand-and-one parts."""
    filename = "f.txt" if kind == "files" else None
    parts = [part(f"p{i}", b"v", filename) for i in range(1001)]
    start = multipart(parts, end=False)
    status, body = post_partially(server, "/form", start, len(start) + 1_000_000)
    assert status == 413, body
    assert b"limit 1000" in body


@pytest.mark.parametrize("kind", ["fields", "files"])
def test_case_16_control_1000_parts_are_fine(server: Hostile, kind: str) -> None:
    filename = "f.txt" if kind == "files" else None
    body = multipart(part(f"p{i}", b"v", filename) for i in range(1000))
    reply = send(server, "/form", "POST", (MULTIPART,), body)
    assert (reply.status, reply.json()["count"]) == (200, 1000)


def test_case_16_urlencoded_1001_fields_is_413(server: Hostile) -> None:
    body = "&".join(f"p{i}=v" for i in range(1001)).encode()
    reply = send(
        server, "/form", "POST", ("Content-Type: application/x-www-form-urlencoded",), body
    )
    assert reply.status == 413, reply


def test_case_17_10mb_field_is_413_at_the_part_limit(server: Hostile) -> None:
    """CVE-2024-47874: one non-file field of 10 MB; the limit is 1 MiB per part."""
    start = multipart([part("big", b"x" * (MiB + 64 * 1024))], end=False)
    status, body = post_partially(server, "/form", start, 10 * 1000 * 1000 + 200)
    assert status == 413, body
    assert b"form field is over" in body


def test_case_17_10mb_urlencoded_field_is_413(server: Hostile) -> None:
    body = b"big=" + b"x" * (10 * 1000 * 1000)
    reply = send(
        server, "/form", "POST", ("Content-Type: application/x-www-form-urlencoded",), body
    )
    assert reply.status == 413, reply


def test_case_18_50mb_upload_spools_to_disk_and_others_are_served(server: Hostile) -> None:
    """CVE-2025-54121: a big upload must not hold the event loop while it is written."""
    size = 50 * 1000 * 1000
    head_part = part("file", b"", "big.bin", "Content-Type: application/octet-stream")
    prefix = f"--{BOUNDARY}\r\n".encode() + head_part
    suffix = f"\r\n--{BOUNDARY}--\r\n".encode()
    head = build(
        "POST", "/form", (MULTIPART, f"Content-Length: {len(prefix) + size + len(suffix)}")
    )
    block = b"z" * MiB
    with connect(server, timeout=120) as sock:
        sock.sendall(head + prefix)
        sent = 0
        while sent < size // 2:
            sock.sendall(block)
            sent += len(block)
        # Mid-upload (the rest is not sent yet), other requests are answered.
        for _ in range(3):
            assert send(server, "/ping").status == 200
        while sent < size:
            chunk = block[: size - sent]
            sock.sendall(chunk)
            sent += len(chunk)
        sock.sendall(suffix)
        reply = read_reply(sock, "POST")
    assert reply.status == 200, reply
    (upload,) = reply.json()["fields"]
    assert upload == {"name": "file", "filename": "big.bin", "size": size, "in_memory": False}
    assert size < UPLOAD_LIMIT


def test_case_19_junk_around_the_boundaries_parses_without_log_spam(server: Hostile) -> None:
    before = len(server.log())
    junk = b"junk\r\n-\r\n" * (500 * 1000)  # 5 MB before and 5 MB after
    body = junk + b"\r\n" + multipart([part("a", b"1")]) + junk
    reply = send(server, "/form", "POST", (MULTIPART,), body)
    assert reply.status in (200, 400), reply
    if reply.status == 200:
        assert reply.json()["fields"] == [{"name": "a", "size": 1}]
    assert len(server.log()) - before < 10_000, server.log()[before : before + 2000]


def test_case_19_crlf_and_boundary_lookalikes_inside_parts(server: Hostile) -> None:
    near_miss = b"\r\n--" + BOUNDARY[:-1].encode() + b"X"
    data = (near_miss + b"\r\n\r\n\r\r\n") * (6 * 1000 * 1000 // (len(near_miss) + 5))
    body = multipart([part("f", data, "lookalike.bin"), part("g", b"\r\n" * 400_000)])
    before = len(server.log())
    reply = send(server, "/form", "POST", (MULTIPART,), body)
    assert reply.status == 200, reply
    assert [f["size"] for f in reply.json()["fields"]] == [len(data), 800_000]
    assert len(server.log()) - before < 10_000


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(tuple(f"X-H{i}: v" for i in range(10_000)), id="10000-part-headers"),
        pytest.param(("X-Long: " + "a" * MiB,), id="1mb-header-line"),
    ],
)
def test_case_20_too_many_or_too_long_part_headers_is_400(
    server: Hostile, extra: tuple[str, ...]
) -> None:
    body = multipart([part("a", b"1", None, *extra)])
    reply = send(server, "/form", "POST", (MULTIPART,), body)
    assert reply.status == 400, reply


@pytest.mark.parametrize(
    "params",
    [
        pytest.param("; a" * 17_000, id="bare-names"),
        pytest.param('; a="' + '\\"' * 25_000, id="unclosed-quote"),
        pytest.param("".join(f"; p{i}=v" for i in range(6_000)), id="6000-params"),
        pytest.param(";" * 50_000, id="semicolons"),
        pytest.param("; boundary=" + "b" * 50_000, id="long-boundary"),
    ],
)
def test_case_21_50kb_of_content_type_parameters(server: Hostile, params: str) -> None:
    """CVE-2024-24762: a Content-Type header crafted to make a parser backtrack."""
    content_type = f"Content-Type: multipart/form-data; boundary={BOUNDARY}{params}"
    reply = send(server, "/form", "POST", (content_type,), multipart([part("a", b"1")]))
    assert reply.status in (200, 400), reply


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "b" * 71,
        'multipart/form-data; boundary="unterminated',
    ],
)
def test_case_22_missing_or_overlong_boundary_is_400(server: Hostile, content_type: str) -> None:
    reply = send(server, "/form", "POST", (f"Content-Type: {content_type}",), b"--b\r\n\r\n")
    assert reply.status == 400, reply


def test_case_22_truncated_body_is_400_and_temp_files_are_removed(server: Hostile) -> None:
    # 2 MiB of file content rolls past the 1 MiB spool threshold onto the disk.
    body = multipart([part("f", b"d" * (2 * MiB), "big.bin")], end=False)
    reply = send(server, "/form", "POST", (MULTIPART,), body)
    assert reply.status == 400, reply
    assert wait_for_temp_files(server, 0) == 0
    assert list((server.root / "tmp").iterdir()) == []


def test_case_22_control_uploads_of_a_finished_request_are_closed(server: Hostile) -> None:
    body = multipart([part("f", b"d" * (2 * MiB), "big.bin")])
    reply = send(server, "/form", "POST", (MULTIPART,), body)
    assert reply.json()["fields"][0]["in_memory"] is False
    assert wait_for_temp_files(server, 0) == 0


DEEP = "a" + "[x]" * 10_000


@pytest.mark.parametrize("name", ["", "123", DEEP, "__proto__[polluted]", "a.b.c"])
def test_case_23_odd_multipart_field_names_are_400_or_flat(server: Hostile, name: str) -> None:
    reply = send(server, "/form", "POST", (MULTIPART,), multipart([part(name, b"v")]))
    if name == "":
        assert reply.status == 400, reply
        return
    if name == DEEP and reply.status == 400:
        return  # 30 KB is over the 8 KiB part header line limit: refused, which is fine
    assert reply.status == 200, reply
    assert reply.json()["fields"] == [{"name": name[:100], "size": 1}]


@pytest.mark.parametrize("name", ["", "123", DEEP, "__proto__[polluted]", "a.b.c"])
def test_case_23_odd_urlencoded_field_names_are_flat(server: Hostile, name: str) -> None:
    form = "Content-Type: application/x-www-form-urlencoded"
    reply = send(server, "/form", "POST", (form,), f"{name}=v&{name}=w".encode())
    assert reply.status == 200, reply
    assert reply.json()["fields"] == [{"name": name[:100], "size": 1}] * 2


@pytest.mark.parametrize(
    "disposition",
    [
        'filename="../../x"',
        'filename="/abs"',
        'filename="C:\\\\x"',
        'filename="CON"',
        'filename="..\\\\..\\\\y"',
        'filename="a\x00b"',
        "filename*=UTF-8''..%2F..%2Fz",
        "filename*=UTF-8''%00",
    ],
)
def test_case_24_client_filename_is_metadata_never_a_path(
    server: Hostile, disposition: str
) -> None:
    upload = (
        f'Content-Disposition: form-data; name="file"; {disposition}\r\n\r\n'.encode("latin-1")
        + b"payload"
    )
    before = {p for p in server.root.rglob("*")}
    reply = send(server, "/upload-save", "POST", (MULTIPART,), multipart([upload]))
    assert reply.status in (200, 400), reply
    created = {p for p in server.root.rglob("*")} - before
    if reply.status == 200 and reply.json()["saved"] is not None:
        saved = reply.json()["saved"]
        assert saved.startswith("uploads/") and saved.count("/") == 1, saved
        assert ".." not in saved and "\x00" not in saved
        assert created == {server.root / saved}
    else:
        assert created == set()
    for path in created:
        path.unlink()


def test_case_25_disconnect_mid_upload_closes_and_unlinks(server: Hostile) -> None:
    start = multipart([part("f", b"", "big.bin")], end=False)[:-2]  # open file part
    assert wait_for_temp_files(server, 0) == 0
    probe = new_probe()
    head = build(
        "POST",
        "/form",
        (MULTIPART, f"Content-Length: {10 * MiB}", f"x-probe: {probe}"),
        close=False,
    )
    sock = connect(server)
    try:
        sock.sendall(head + start + b"d" * (3 * MiB))
        # The upload is on disk: past the 1 MiB spool threshold.
        assert wait_for_temp_files(server, 1) == 1
    finally:
        # An abrupt close (RST), as a client that dies mid-upload.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            sock.close()
    assert wait_for_temp_files(server, 0) == 0
    assert list((server.root / "tmp").iterdir()) == []

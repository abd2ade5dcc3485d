"""SECURITY.md, hostile inputs 8 to 15: request bodies.

"Before reading" is shown on the wire: the request declares (or starts) a body it never
finishes sending, and the answer comes anyway. Timings are never asserted; the sizes are
those SECURITY.md names.
"""

from __future__ import annotations

import asyncio
import select
from pathlib import Path

import pytest

from kettle import ConfigError, Kettle, Request
from tests.conftest import MakeApp, call_raw

from .conftest import (
    Hostile,
    build,
    connect,
    get_json,
    hostile_server,
    new_probe,
    read_reply,
    send,
)
from .hostile_app import BODY_LIMIT, PROBE_HEADER

JSON = "Content-Type: application/json"


def send_part(target: Hostile, head: bytes, part: bytes) -> tuple[int, bytes]:
    """Send a request head and the first ``part`` of its body, never the rest; the reply."""
    with connect(target) as sock:
        sock.sendall(head + part)
        reply = read_reply(sock, "POST")
    return reply.status, reply.body


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/upload", "application/octet-stream"),
        ("/json", "application/json"),
        ("/form", "multipart/form-data; boundary=b"),
        ("/form", "application/x-www-form-urlencoded"),
    ],
)
def test_case_08_content_length_over_limit_is_413_before_reading(
    server: Hostile, path: str, content_type: str
) -> None:
    head = build("POST", path, (f"Content-Type: {content_type}", "Content-Length: 10000000000"))
    status, body = send_part(server, head, b"[" * 1024)
    assert status == 413, body


def _chunks(size: int, count: int) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (size, b"x" * size) for _ in range(count))


@pytest.mark.parametrize("path", ["/upload", "/stream-count"])
def test_case_09_chunked_body_over_limit_is_413_before_it_ends(server: Hostile, path: str) -> None:
    probe = new_probe()
    head = build(
        "POST", path, ("Transfer-Encoding: chunked", f"{PROBE_HEADER}: {probe}"), close=False
    )
    # Six 16 KiB chunks: 96 KiB against a 64 KiB limit, and no final "0" chunk ever.
    status, body = send_part(server, head, _chunks(16 * 1024, 6))
    assert status == 413, body
    if path == "/stream-count":
        # What the handler was given before the limit stopped the stream.
        assert get_json(server, f"/probe/{probe}")["streamed"] <= BODY_LIMIT


def test_case_09_chunked_body_within_the_limit_is_read(server: Hostile) -> None:
    body = _chunks(16 * 1024, 3) + b"0\r\n\r\n"
    reply = send(server, "/upload", "POST", ("Transfer-Encoding: chunked",), body)
    assert (reply.status, reply.json()) == (200, {"size": 48 * 1024})


@pytest.mark.parametrize(
    "headers",
    [
        ("Content-Length: -1",),
        ("Content-Length: abc",),
        ("Content-Length: 1e3",),
        ("Content-Length: 0x3",),
        ("Content-Length: +3",),
        ("Content-Length: 3, 3",),
        ("Content-Length: 3", "Content-Length: 4"),
        ("Content-Length: 3", "Content-Length: 3"),
    ],
)
def test_case_10_bad_or_duplicated_content_length_is_400(
    server: Hostile, headers: tuple[str, ...]
) -> None:
    probe = new_probe()
    reply = send(server, "/upload", "POST", headers, b"abc", probe=probe)
    if server.name.startswith("granian") and headers == ("Content-Length: 3", "Content-Length: 3"):
        # granian folds identical copies into one before kettle sees them, as RFC 9110
        # section 8.6 allows: the framing is then unambiguous.
        assert (reply.status, reply.json()) == (200, {"size": 3})
        return
    assert reply.status == 400, reply


@pytest.mark.parametrize(
    "values", [[b"-1"], [b"abc"], [b"+3"], [b"3, 3"], [b"3", b"3"], [b"3", b"4"], [b"\xd9\xa3"]]
)
def test_case_10_scope_with_bad_content_length_is_400(
    make_app: MakeApp, values: list[bytes]
) -> None:
    # Raw scope: kettle's own check, for a server that passes such headers on.
    app = make_app()

    @app.post("/upload")
    async def upload(req: Request) -> dict[str, int]:
        return {"size": len(await req.body())}

    headers = [(b"content-length", value) for value in values]
    status, _ = asyncio.run(call_raw(app, "/upload", "POST", headers, b"abc"))
    assert status == 400


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/json",
        "application/jsonp",
        None,
    ],
)
def test_case_11_json_under_another_content_type_is_415(
    server: Hostile, content_type: str | None
) -> None:
    """Only a JSON content type gets a JSON parse (FastAPI CVE-2021-32677)."""
    headers = (f"Content-Type: {content_type}",) if content_type else ()
    reply = send(server, "/json", "POST", headers, b'{"admin": true}')
    assert reply.status == 415, reply


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.api+json"])
def test_case_11_control_json_content_types_parse(server: Hostile, content_type: str) -> None:
    reply = send(server, "/json", "POST", (f"Content-Type: {content_type}",), b'{"a": 1}')
    assert (reply.status, reply.json()) == (200, {"type": "dict"})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="array-100000-deep"),
        pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="object-100000-deep"),
        pytest.param(b"9" * 1_000_000, id="million-digit-int"),
        pytest.param(b"[" + b"9" * 1_000_000 + b"]", id="million-digit-int-in-list"),
        pytest.param(b"9" * 1_000_000 + b".5", id="million-digit-float"),
        pytest.param(b"1e1000000", id="huge-exponent"),
    ],
)
def test_case_12_deep_json_or_huge_number_is_400(server: Hostile, body: bytes) -> None:
    reply = send(server, "/json", "POST", (JSON,), body)
    assert reply.status == 400, reply


def test_case_12_long_fraction_is_a_float_not_an_error(server: Hostile) -> None:
    # A million fraction digits round to a float in one linear pass: no int, no 500.
    reply = send(server, "/json", "POST", (JSON,), b"0." + b"9" * 1_000_000)
    assert (reply.status, reply.json()) == (200, {"type": "float"})


FORM = "Content-Type: application/x-www-form-urlencoded"


@pytest.mark.parametrize("path", ["/form", "/upload-save"])
def test_case_13_million_pairs_urlencoded_is_413(server: Hostile, path: str) -> None:
    """Urlencoded bodies get the form limits too (Starlette CVE-2026-54283)."""
    # /form allows 16 MiB, so the field count says no; /upload-save the 64 KiB body limit.
    reply = send(server, path, "POST", (FORM,), b"a&" * 1_000_000)
    assert reply.status == 413, reply


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b";" * 1_000_000, 1),
        (b"a=1;" * 250_000, 1),
        (b";&" * 500, 500),
        (b"&" * 1_000_000, 0),
    ],
)
def test_case_13_semicolons_are_data_not_separators(
    server: Hostile, body: bytes, names: int
) -> None:
    reply = send(server, "/form", "POST", (FORM,), body)
    assert reply.status == 200, reply
    assert reply.json()["count"] == names


@pytest.mark.parametrize("value", ["10MBx", "-1", "1e3", "10 MiBs", "", "ten"])
def test_case_14_invalid_size_setting_refuses_to_start(value: str) -> None:
    app = Kettle(config={"SECRET_KEY": "k" * 32, "MAX_BODY_SIZE": value})
    with pytest.raises(ConfigError, match="MAX_BODY_SIZE"):
        app.finalize()


@pytest.mark.parametrize("value", ["10MBx", "-1", "1.5.5"])
def test_case_14_invalid_route_size_fails_at_registration(value: str) -> None:
    app = Kettle(config={"SECRET_KEY": "k" * 32})
    with pytest.raises(ConfigError, match="invalid size"):
        app.add_route("/x", lambda req: "x", ["POST"], name="x", max_body_size=value)


@pytest.mark.parametrize("name", ["uvicorn", "granian", "granian-rsgi"])
def test_case_14_server_with_invalid_size_exits(name: str, tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="exited") as failed,
        hostile_server(name, tmp_path, env={"KETTLE_MAX_BODY_SIZE": "10MBx"}),
    ):
        pass
    assert "10MBx" in str(failed.value)


def test_case_15_trickled_body_is_408_at_the_body_timeout(server: Hostile) -> None:
    # BODY_TIMEOUT is 1 s in hostile_app: one byte every 0.25 s never completes 100 bytes
    # in time. The loop is a bound on the test, not a claim about speed.
    head = build("POST", "/upload", ("Content-Length: 100",), close=False)
    with connect(server) as sock:
        sock.sendall(head)
        sent = 0
        while sent < 60:
            sock.sendall(b"x")
            sent += 1
            readable, _, _ = select.select([sock], [], [], 0.25)
            if readable:
                break
        reply = read_reply(sock, "POST")
    assert reply.status == 408, reply
    assert sent < 100

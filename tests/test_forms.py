"""Tests for kettle.forms (parse_form, FormData, FormLimits) and kettle.uploads."""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kettle import forms
from kettle.exceptions import (
    BadRequest,
    ClientDisconnect,
    HTTPError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from kettle.forms import FormData, FormLimits, parse_form
from kettle.uploads import UploadFile, secure_filename

BOUNDARY = "----kettleBoundary7MA4YWxk"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
URLENCODED = "application/x-www-form-urlencoded"
CHUNK_SIZES = [1, 7, 64 * 1024]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=CHUNK_SIZES, ids=lambda size: f"chunk{size}")
def chunk(request: pytest.FixtureRequest) -> int:
    size: int = request.param
    return size


@pytest.fixture
def created() -> Iterator[list[UploadFile]]:
    """Every UploadFile forms.py creates during the test, to check they get closed."""
    uploads: list[UploadFile] = []

    class Recording(UploadFile):
        __slots__ = ()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            uploads.append(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(forms, "UploadFile", Recording)
        yield uploads


# -- building bodies -----------------------------------------------------------------------


def part(headers: list[str | bytes], data: bytes | str = b"") -> bytes:
    """One raw part: header lines, a blank line, the content."""
    lines = [h.encode("utf-8") if isinstance(h, str) else h for h in headers]
    content = data.encode("utf-8") if isinstance(data, str) else data
    return b"\r\n".join(lines) + b"\r\n\r\n" + content


def field(name: str, value: bytes | str, *extra: str) -> bytes:
    return part([f'Content-Disposition: form-data; name="{name}"', *extra], value)


def file_part(
    name: str, filename: str, data: bytes, content_type: str = "application/octet-stream"
) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"'
    return part([disposition, f"Content-Type: {content_type}"], data)


def body(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    """A multipart body around ``parts`` (no parts: just the closing delimiter)."""
    delimiter = b"--" + boundary.encode("ascii")
    if not parts:
        return delimiter + b"--\r\n"
    inner = (b"\r\n" + delimiter + b"\r\n").join(parts)
    return delimiter + b"\r\n" + inner + b"\r\n" + delimiter + b"--\r\n"


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def parse(
    data: bytes,
    chunk: int = 64 * 1024,
    content_type: str = MULTIPART,
    limits: FormLimits | None = None,
) -> FormData:
    return await parse_form(content_type, chunks(data, chunk), limits or FormLimits())


async def fails(
    status: int,
    data: bytes,
    chunk: int = 64 * 1024,
    content_type: str = MULTIPART,
    limits: FormLimits | None = None,
) -> HTTPError:
    with pytest.raises(HTTPError) as info:
        form = await parse(data, chunk, content_type, limits)
        await form.close()
    assert info.value.status == status, info.value
    return info.value


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# Calls rather than attribute reads, so that mypy does not narrow them between awaits.
def in_memory(upload: UploadFile) -> bool:
    return upload.in_memory


def is_closed(upload: UploadFile) -> bool:
    return upload.file.closed


# -- urlencoded ----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a=1&b=2", [("a", "1"), ("b", "2")]),
        (b"a=1&a=2&b=3", [("a", "1"), ("a", "2"), ("b", "3")]),
        (b"a=&b&&c=", [("a", ""), ("b", ""), ("c", "")]),
        (b"q=a+b%20c%26d&%C3%A9=%E2%82%AC", [("q", "a b c&d"), ("\u00e9", "\u20ac")]),
        (b"a[b]=1&a[__proto__]=2", [("a[b]", "1"), ("a[__proto__]", "2")]),
        (b"", []),
    ],
)
async def test_urlencoded(raw: bytes, expected: list[tuple[str, str]], chunk: int) -> None:
    form = await parse(raw, chunk, URLENCODED + "; charset=UTF-8")
    assert form.multi_items() == expected
    assert form.files() == []
    if expected:
        assert form[expected[0][0]] == expected[0][1]


@pytest.mark.anyio
@pytest.mark.parametrize("raw", [b"a=%zz", b"a=%4", b"%=1", b"a=%ff", b"a=\xff"])
async def test_urlencoded_bad_bytes_are_400(raw: bytes) -> None:
    exc = await fails(400, raw, content_type=URLENCODED)
    assert isinstance(exc, BadRequest)
    assert "form body" in exc.detail


@pytest.mark.anyio
async def test_urlencoded_too_many_fields_is_413() -> None:
    await parse(b"&".join(b"k%d=v" % i for i in range(1000)), content_type=URLENCODED)
    exc = await fails(413, b"&".join(b"k%d=v" % i for i in range(1001)), content_type=URLENCODED)
    assert isinstance(exc, PayloadTooLarge)
    assert exc.detail == "too many form fields (limit 1000)"


@pytest.mark.anyio
async def test_urlencoded_million_pairs_is_413() -> None:
    await fails(413, b"a&" * 1_000_000, content_type=URLENCODED)


@pytest.mark.anyio
async def test_urlencoded_body_cap() -> None:
    limits = FormLimits(max_body_size=10)
    form = await parse(b"a=12345678", 3, URLENCODED, limits)
    assert form["a"] == "12345678"
    exc = await fails(413, b"a=123456789", 3, URLENCODED, limits)
    assert exc.detail == "form body over 10 bytes"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "", "multipart/mixed; boundary=x"]
)
async def test_other_content_types_are_415(content_type: str) -> None:
    exc = await fails(415, b"{}", content_type=content_type)
    assert isinstance(exc, UnsupportedMediaType)
    assert exc.detail.startswith(
        "expected application/x-www-form-urlencoded or multipart/form-data, got "
    )


# -- multipart: the good paths -------------------------------------------------------------


@pytest.mark.anyio
async def test_multipart_fields_and_files(chunk: int) -> None:
    data = body(
        field("title", "Hello, w\u00f6rld"),
        field("tag", "a"),
        file_part("doc", "notes.txt", b"line 1\r\nline 2\r\n--not-a-boundary\r\n", "text/plain"),
        field("tag", ""),
        file_part("doc", "empty.bin", b""),
    )
    async with await parse(data, chunk) as form:
        assert list(form) == ["title", "tag", "doc"]
        assert len(form) == 3 and "tag" in form and "nope" not in form
        assert form["title"] == "Hello, w\u00f6rld"
        assert form.getlist("tag") == ["a", ""]
        files = form.files()
        assert [(key, upload.filename) for key, upload in files] == [
            ("doc", "notes.txt"),
            ("doc", "empty.bin"),
        ]
        notes, empty = files[0][1], files[1][1]
        assert notes.content_type == "text/plain"
        assert notes.headers["content-type"] == "text/plain"
        assert notes.size == 34 and notes.in_memory
        assert await notes.read() == b"line 1\r\nline 2\r\n--not-a-boundary\r\n"
        assert await empty.read() == b"" and empty.size == 0
        assert form["doc"] is notes
        assert [key for key, _ in form.multi_items()] == ["title", "tag", "doc", "tag", "doc"]
        assert "notes.txt" in repr(form)
    assert notes.file.closed and empty.file.closed


@pytest.mark.anyio
async def test_multipart_empty_form_and_epilogue(chunk: int) -> None:
    form = await parse(body(), chunk)
    assert len(form) == 0
    form = await parse(body(field("a", "1")) + b"epilogue, ignored\r\n", chunk)
    assert form["a"] == "1"


@pytest.mark.anyio
async def test_large_file_rolls_to_disk_and_reads_back(chunk: int) -> None:
    payload = os.urandom(5_000) + b"\r\n--" + BOUNDARY[:-1].encode() + os.urandom(2_000)
    limits = FormLimits(spool_threshold=1024)
    async with await parse(body(file_part("f", "big.bin", payload)), chunk, limits=limits) as form:
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        assert not upload.in_memory
        assert upload.size == len(payload)
        assert await upload.read(10) == payload[:10]
        assert await upload.read() == payload[10:]
        assert await upload.seek(0) == 0
        assert await upload.read() == payload
    assert upload.file.closed


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        ("filename*=UTF-8''%E2%82%AC%20rates.txt", "\u20ac rates.txt"),
        ("filename=\"fallback.txt\"; filename*=utf-8'en'%C3%A9t%C3%A9.txt", "\u00e9t\u00e9.txt"),
        ("filename*=iso-8859-1''caf%E9", "caf\u00e9"),
        ("filename*=UTF-8''..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"),
        ('filename="../../x"', "../../x"),
        ('filename="C:\\x\\y.txt"', "C:\\x\\y.txt"),
        ('filename="a \\"quoted\\" name"', 'a "quoted" name'),
        ("filename=bare.txt", "bare.txt"),
        ('filename=""', ""),
    ],
)
async def test_filenames_are_metadata(disposition: str, filename: str, chunk: int) -> None:
    data = body(part([f'Content-Disposition: form-data; name="f"; {disposition}'], b"x"))
    async with await parse(data, chunk) as form:
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        assert upload.filename == filename
        assert upload.content_type == "application/octet-stream"
        assert await upload.read() == b"x"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "name", ["a[b]", "0", "a" + "[x]" * 2_000, 'x y;z "q"', "\u00e9t\u00e9", "__proto__"]
)
async def test_field_names_stay_flat(name: str) -> None:
    escaped = name.replace('"', '\\"')
    form = await parse(body(part([f'Content-Disposition: form-data; name="{escaped}"'], "v")))
    assert form.multi_items() == [(name, "v")]


@pytest.mark.anyio
async def test_ten_thousand_deep_name_is_400() -> None:
    # 30 KB of name is over the 8 KiB header line limit: refused, never nested.
    name = "a" + "[x]" * 10_000
    exc = await fails(400, body(part([f'Content-Disposition: form-data; name="{name}"'], "v")))
    assert "header" in exc.detail.lower()


@pytest.mark.anyio
async def test_field_charsets_and_case(chunk: int) -> None:
    data = body(
        field("l1", b"caf\xe9", "Content-Type: text/plain; charset=ISO-8859-1"),
        field("u8", "caf\u00e9", "Content-Type: text/plain"),
        part(["content-disposition: FORM-DATA; NAME=lower"], "v"),
    )
    form = await parse(data, chunk)
    assert form.multi_items() == [("l1", "caf\u00e9"), ("u8", "caf\u00e9"), ("lower", "v")]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type",
    [
        f"multipart/form-data; boundary={BOUNDARY};",
        f'Multipart/Form-Data ; charset=utf-8 ;BOUNDARY = "{BOUNDARY}" ; ',
    ],
)
async def test_content_type_parameter_forms(content_type: str) -> None:
    form = await parse(body(field("a", "1")), content_type=content_type)
    assert form["a"] == "1"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "payload",
    [
        (b"\r\n--" + BOUNDARY.encode() + b"x") * 300_000,
        b"\r\n" * 5_000_000,
        b"\r" * 10_000_000,
    ],
    ids=["boundary-lookalikes", "crlf", "cr"],
)
async def test_hostile_part_data_parses(payload: bytes) -> None:
    async with await parse(body(file_part("f", "junk.bin", payload))) as form:
        upload = form["f"]
        assert isinstance(upload, UploadFile) and upload.size == len(payload)


@pytest.mark.anyio
async def test_limits_at_the_edge_pass() -> None:
    limits = FormLimits(max_part_size=100, max_part_headers=3, max_header_line=64)
    line = "X-Pad: " + "a" * (64 - 7)
    data = body(
        field("f", "x" * 100, line, "X-Other: 1"),
        *[field(f"n{i}", "") for i in range(999)],
    )
    form = await parse(data, 7, limits=limits)
    assert form["f"] == "x" * 100 and len(form) == 1000
    boundary = "b" * 70
    content_type = f"multipart/form-data; boundary={boundary}"
    form = await parse(body(field("a", "1"), boundary=boundary), 7, content_type)
    assert form["a"] == "1"


# -- multipart: the hostile paths ----------------------------------------------------------

PLAIN = field("ok", "1")
TRUNCATED = body(PLAIN, file_part("f", "x.bin", b"y" * 5000))[:-20]
MALFORMED: list[tuple[str, str, bytes, int, str]] = [
    ("no boundary", "multipart/form-data", body(PLAIN), 400, "without a boundary"),
    ("empty boundary", 'multipart/form-data; boundary=""', body(PLAIN), 400, "empty"),
    ("long boundary", "multipart/form-data; boundary=" + "b" * 71, b"", 400, "over 70"),
    ("bad boundary char", "multipart/form-data; boundary=a\x00b", b"", 400, "invalid character"),
    ("unclosed quote", 'multipart/form-data; boundary="abc', b"", 400, "malformed"),
    ("dup boundary", MULTIPART + "; boundary=x", body(PLAIN), 400, "malformed"),
    ("truncated", MULTIPART, TRUNCATED, 400, "truncated"),
    ("empty body", MULTIPART, b"", 400, "truncated"),
    ("junk preamble", MULTIPART, b"junk" + body(PLAIN), 400, "malformed multipart body"),
    ("no disposition", MULTIPART, body(part(["Content-Type: text/plain"], "x")), 400, "Content-"),
    (
        "not form-data",
        MULTIPART,
        body(part(['Content-Disposition: attachment; name="a"'], "x")),
        400,
        "form-data; name",
    ),
    ("no name", MULTIPART, body(part(["Content-Disposition: form-data"], "x")), 400, "name"),
    (
        "empty name",
        MULTIPART,
        body(part(['Content-Disposition: form-data; name=""'])),
        400,
        "empty",
    ),
    (
        "two dispositions",
        MULTIPART,
        body(part(["Content-Disposition: form-data; name=a"] * 2, "x")),
        400,
        "duplicate",
    ),
    ("bad utf-8 value", MULTIPART, body(field("a", b"\xff\xfe")), 400, "invalid utf-8"),
    (
        "bad utf-8 name",
        MULTIPART,
        body(part([b'Content-Disposition: form-data; name="\xff"'])),
        400,
        "malformed",
    ),
    (
        "bad charset",
        MULTIPART,
        body(field("a", "x", "Content-Type: text/plain; charset=rot13")),
        400,
        "charset",
    ),
    (
        "bad filename*",
        MULTIPART,
        body(part(["Content-Disposition: form-data; name=a; filename*=x"])),
        400,
        "filename*",
    ),
    (
        "bad filename* utf-8",
        MULTIPART,
        body(part(["Content-Disposition: form-data; name=a; filename*=UTF-8''%FF"])),
        400,
        "invalid utf-8 in filename*",
    ),
    (
        "bad part content-type",
        MULTIPART,
        body(field("a", "x", 'Content-Type: text/plain; charset="utf-8')),
        400,
        "malformed Content-Type",
    ),
    (
        "two content-types",
        MULTIPART,
        body(field("a", "x", "Content-Type: text/plain", "Content-Type: text/html")),
        400,
        "duplicate content-type",
    ),
    (
        "bad filename* escape",
        MULTIPART,
        body(part(["Content-Disposition: form-data; name=a; filename*=UTF-8''%zz"])),
        400,
        "percent-escape",
    ),
    (
        "header without colon",
        MULTIPART,
        body(part(["Content-Disposition form-data"])),
        400,
        "malformed",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content_type", "data", "status", "detail"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
async def test_malformed_multipart(
    content_type: str, data: bytes, status: int, detail: str, chunk: int, created: list[UploadFile]
) -> None:
    exc = await fails(status, data, chunk, content_type)
    assert detail.lower() in exc.detail.lower()
    assert all(upload.file.closed for upload in created)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("make_part", "detail"),
    [
        (lambda i: field(f"f{i}", "v"), "too many fields (limit 1000)"),
        (lambda i: file_part(f"u{i}", f"{i}.txt", b"data"), "too many files (limit 1000)"),
    ],
    ids=["fields", "files"],
)
async def test_part_1001_is_413(make_part: Any, detail: str, created: list[UploadFile]) -> None:
    async with await parse(body(*[make_part(i) for i in range(1000)])) as form:
        assert len(form) == 1000
    exc = await fails(413, body(*[make_part(i) for i in range(1001)]))
    assert exc.detail == detail
    assert len(created) == (2000 if "files" in detail else 0)
    assert all(upload.file.closed for upload in created)


@pytest.mark.anyio
async def test_ten_thousand_parts_are_413() -> None:
    data = body(*[field("a", "") for _ in range(10_000)])
    exc = await fails(413, data)
    assert "too many fields" in exc.detail


@pytest.mark.anyio
async def test_field_over_part_size_is_413(chunk: int) -> None:
    limits = FormLimits(max_part_size=100)
    exc = await fails(413, body(field("a", "x" * 101)), chunk, limits=limits)
    assert exc.detail == "a form field is over 100 bytes"
    # Files are not bound by the per-part limit.
    data = body(file_part("f", "f.bin", b"x" * 1000))
    async with await parse(data, chunk, limits=limits) as form:
        assert isinstance(form["f"], UploadFile)


@pytest.mark.anyio
async def test_ten_megabyte_field_is_413_without_buffering_it() -> None:
    exc = await fails(413, body(field("a", b"x" * 10_000_000)))
    assert "over 1048576 bytes" in exc.detail


@pytest.mark.anyio
async def test_too_many_part_headers_is_400(chunk: int) -> None:
    limits = FormLimits(max_part_headers=3)
    extra = [f"X-H{i}: v" for i in range(3)]
    exc = await fails(400, body(field("a", "1", *extra)), chunk, limits=limits)
    assert exc.detail == "too many headers in a multipart part (limit 3)"


@pytest.mark.anyio
async def test_ten_thousand_part_headers_is_400() -> None:
    extra = [f"X-H{i}: v" for i in range(10_000)]
    exc = await fails(400, body(field("a", "1", *extra)))
    assert "limit 32" in exc.detail


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("length", "chunk"), [(65, 1), (65, 7), (65, 64 * 1024), (1_000_000, 64 * 1024)]
)
async def test_long_header_line_is_400(length: int, chunk: int) -> None:
    limits = FormLimits(max_header_line=64)
    line = "X-Pad: " + "a" * (length - 7)
    exc = await fails(400, body(field("a", "1", line)), chunk, limits=limits)
    assert "header" in exc.detail.lower()


@pytest.mark.anyio
async def test_crafted_content_type_parameters_are_400() -> None:
    hostile = [
        "multipart/form-data; " + 'a="' * 20_000,
        "multipart/form-data" + "; a=b" * 10_000,
        "multipart/form-data; a=" + "\\" * 50_000,
        "multipart/form-data; " + ";" * 50_000 + "boundary=",
    ]
    for content_type in hostile:
        await fails(400, body(), content_type=content_type)


# -- cleanup after errors ------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("chunk", [7, 64 * 1024])
async def test_truncated_upload_closes_temp_files(chunk: int, created: list[UploadFile]) -> None:
    limits = FormLimits(spool_threshold=512)
    data = body(file_part("a", "a.bin", b"a" * 4096), file_part("b", "b.bin", b"b" * 4096))[:-100]
    before = open_fds()
    await fails(400, data, chunk, limits=limits)
    assert len(created) == 2 and not any(upload.in_memory for upload in created)
    assert all(upload.file.closed for upload in created)
    assert open_fds() == before


@pytest.mark.anyio
async def test_client_disconnect_closes_temp_files(created: list[UploadFile]) -> None:
    data = body(file_part("a", "a.bin", b"a" * 100_000))

    async def disconnecting() -> AsyncIterator[bytes]:
        yield data[:60_000]
        raise ClientDisconnect

    before = open_fds()
    with pytest.raises(ClientDisconnect):
        await parse_form(MULTIPART, disconnecting(), FormLimits(spool_threshold=1024))
    assert len(created) == 1 and created[0].file.closed
    assert open_fds() == before


@pytest.mark.anyio
async def test_error_in_later_part_closes_earlier_files(created: list[UploadFile]) -> None:
    limits = FormLimits(spool_threshold=16, max_files=2)
    files = [file_part(f"f{i}", f"{i}.bin", b"z" * 64) for i in range(3)]
    before = open_fds()
    exc = await fails(413, body(*files), 7, limits=limits)
    assert exc.detail == "too many files (limit 2)"
    assert len(created) == 2 and all(upload.file.closed for upload in created)
    assert open_fds() == before


# -- UploadFile ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_upload_writes_go_off_loop_once_rolled(monkeypatch: pytest.MonkeyPatch) -> None:
    upload = UploadFile("x.bin", spool_threshold=10)
    threads: list[int] = []
    real_write = upload.file.write

    def spy(data: Any) -> int:
        threads.append(threading.get_ident())
        return real_write(data)

    monkeypatch.setattr(upload.file, "write", spy)
    loop_thread = threading.get_ident()
    await upload.write(b"12345")  # stays in memory: inline
    assert in_memory(upload)
    await upload.write(b"6789012")  # crosses the threshold: the rollover runs in a thread
    assert not in_memory(upload)
    await upload.write(b"abc")  # on disk: in a thread
    assert threads[0] == loop_thread
    assert loop_thread not in threads[1:] and len(threads) == 3
    assert upload.size == 15
    await upload.seek(0)
    assert await upload.read() == b"123456789012abc"
    await upload.close()
    await upload.close()
    assert upload.file.closed


@pytest.mark.anyio
async def test_upload_discard_waits_for_inflight_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    upload = UploadFile("x.bin", spool_threshold=1)
    await upload.write(b"on disk")
    started, release = threading.Event(), threading.Event()
    real_write = upload.file.write

    def slow(data: Any) -> int:
        started.set()
        release.wait(5)
        return real_write(data)

    monkeypatch.setattr(upload.file, "write", slow)
    task = asyncio.ensure_future(upload.write(b"more"))
    while not started.is_set():
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    upload.discard()
    assert not is_closed(upload)  # the thread still holds it
    release.set()
    for _ in range(500):
        if is_closed(upload):
            break
        await asyncio.sleep(0.01)
    assert is_closed(upload)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("client_name", "target"),
    [
        ("../..", "dir"),
        ("\x00", "dir"),
        (None, "dir"),
        ("x", "../escape.txt"),
        ("x", "name with spaces.txt"),
        ("x", "nul\x00.txt"),
        ("x", ".hidden"),
    ],
)
async def test_upload_save_refuses_unsafe_names(
    tmp_path: Path, client_name: str | None, target: str
) -> None:
    upload = UploadFile(client_name, "text/plain")
    await upload.write(b"data")
    destination = tmp_path if target == "dir" else tmp_path / "sub" / target
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match="unsafe"):
        await upload.save(destination)
    assert [p.name for p in tmp_path.iterdir()] == ["sub"]
    assert list((tmp_path / "sub").iterdir()) == []
    await upload.close()


@pytest.mark.anyio
@pytest.mark.parametrize("threshold", [4, 1024])
async def test_upload_save(tmp_path: Path, threshold: int) -> None:
    upload = UploadFile("../../evil.txt", "text/plain", spool_threshold=threshold)
    await upload.write(b"hello world")
    await upload.save(tmp_path / "out.txt", chunk_size=3)
    assert (tmp_path / "out.txt").read_bytes() == b"hello world"
    await upload.save(str(tmp_path / "again.txt"))
    assert (tmp_path / "again.txt").read_bytes() == b"hello world"
    target = io.BytesIO()
    await upload.save(target)
    assert target.getvalue() == b"hello world"
    # A directory: the client's name, made safe.
    assert await upload.save(tmp_path) == str(tmp_path / "evil.txt")
    with pytest.raises(ValueError, match="chunk_size"):
        await upload.save(target, chunk_size=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.txt", "evil.txt", "out.txt"]
    assert repr(upload) == (
        "UploadFile(filename='../../evil.txt', content_type='text/plain', size=11)"
    )
    await upload.close()


def test_upload_rejects_zero_threshold() -> None:
    with pytest.raises(ValueError, match="spool_threshold"):
        UploadFile(None, spool_threshold=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_fields": -1},
        {"max_part_size": -5},
        {"max_part_headers": 0},
        {"max_header_line": 0},
        {"spool_threshold": 0},
        {"max_body_size": -1},
    ],
)
def test_form_limits_validate(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="FormLimits"):
        FormLimits(**kwargs)


def test_form_limits_defaults() -> None:
    limits = FormLimits()
    assert (limits.max_fields, limits.max_files, limits.max_part_headers) == (1000, 1000, 32)
    assert (limits.max_part_size, limits.spool_threshold) == (1024 * 1024, 1024 * 1024)
    assert (limits.max_header_line, limits.max_body_size) == (8192, None)
    assert FormLimits(max_fields=0, max_body_size=0).max_fields == 0


# -- secure_filename -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../x", "x"),
        ("../../../etc/passwd", "etc_passwd"),
        ("/abs/path.txt", "abs_path.txt"),
        ("C:\\x", "C_x"),
        ("C:\\Windows\\win.ini", "C_Windows_win.ini"),
        ("\\\\host\\share\\x", "host_share_x"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("NUL", "_NUL"),
        ("com1.log", "_com1.log"),
        ("LPT9", "_LPT9"),
        ("console.txt", "console.txt"),
        ("a\x00b.txt", "ab.txt"),
        ("My  cool\tmovie.mov", "My_cool_movie.mov"),
        ("na\u00efve caf\u00e9.txt", "naive_cafe.txt"),
        ("\u65e5\u672c\u8a9e.txt", "txt"),
        ("\u65e5\u672c\u8a9e", ""),
        ("..", ""),
        ("", ""),
        (".bashrc", "bashrc"),
        ("__init__.py", "init__.py"),
        ("file.", "file"),
    ],
)
def test_secure_filename(name: str, expected: str) -> None:
    assert secure_filename(name) == expected


def test_secure_filename_caps_length_keeping_extension() -> None:
    long = secure_filename("a" * 300 + ".tar.gz")
    assert len(long) == 255 and long.endswith(".gz") and long.startswith("aaa")
    no_ext = secure_filename("b" * 300)
    assert no_ext == "b" * 255
    huge_ext = secure_filename("c." + "d" * 300)
    assert len(huge_ext) == 255 and huge_ext.startswith("c.ddd")

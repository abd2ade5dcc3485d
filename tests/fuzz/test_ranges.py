"""The ``Range`` / ``If-Range`` handling of ``send_file`` under fuzz.

Files of several sizes are served from disk (validators present) and from memory (no
validators). Properties: any ``Range`` and ``If-Range`` give 200, 206 or 416, never 500, and
whatever comes back is consistent with the file; a satisfiable range set gives 206 whose
bytes are exactly the requested slices (one range: the body; several: a
``multipart/byteranges`` body that parses back), covering exactly the requested bytes; more
than ``MAX_RANGES`` ranges is the whole file.
"""

from __future__ import annotations

import io
import os
import random
import re
import tempfile

from hypothesis import example, given
from hypothesis import strategies as st

from kettle import Kettle, send_file
from kettle.files import MAX_RANGES

from .harness import Harness, Reply, lazy

SIZES = [0, 1, 2, 10, 100, 1000, 70_000]  # 70,000 > one 64 KiB chunk
DATA = {size: random.Random(size).randbytes(size) for size in SIZES}


def _setup(app: Kettle) -> None:
    folder = tempfile.TemporaryDirectory(prefix="kettle-fuzz-")
    for size, data in DATA.items():
        with open(os.path.join(folder.name, f"{size}.bin"), "wb") as file:
            file.write(data)
    app.on_shutdown(folder.cleanup)

    @app.get("/disk/<int:size>")
    async def disk(size: int) -> object:
        return send_file(os.path.join(folder.name, f"{size}.bin"))

    @app.get("/memory/<int:size>")
    async def memory(size: int) -> object:
        return send_file(io.BytesIO(DATA[size]), download_name="x.bin")


harness = lazy(lambda: Harness(_setup))


def _get(where: str, size: int, *headers: tuple[str, str], method: str = "GET") -> Reply:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return harness().request(f"/{where}/{size}", method, headers=raw)


def _parts(reply: Reply) -> list[tuple[str, bytes]]:
    """``(content-range, bytes)`` of each part of a ``multipart/byteranges`` body."""
    kind = reply.header("content-type") or ""
    match = re.fullmatch(r"multipart/byteranges; boundary=([0-9A-Za-z]+)", kind)
    assert match, kind
    delimiter = b"--" + match[1].encode()
    body = reply.body
    assert body.startswith(delimiter + b"\r\n") and body.endswith(b"\r\n" + delimiter + b"--\r\n")
    inner = body[len(delimiter) + 2 : -len(delimiter) - 6]
    parts = []
    for chunk in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, sep, content = chunk.partition(b"\r\n\r\n")
        assert sep, chunk[:200]
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        assert fields[b"content-type"] == b"application/octet-stream"
        parts.append((fields[b"content-range"].decode(), content))
    return parts


def _covered(reply: Reply, size: int) -> set[int]:
    """Check a 206 against the file and return the byte positions it carries."""
    data = DATA[size]
    if (reply.header("content-type") or "").startswith("multipart/"):
        pieces = _parts(reply)
        assert len(pieces) > 1
    else:
        pieces = [(reply.header("content-range") or "", reply.body)]
    covered: set[int] = set()
    last_stop = -1
    for content_range, content in pieces:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range)
        assert match, content_range
        start, end, total = int(match[1]), int(match[2]), int(match[3])
        assert total == size and start <= end < size
        assert content == data[start : end + 1]
        # Parts come in order and never overlap (RFC 9110 section 14.6).
        assert start > last_stop
        last_stop = end
        covered.update(range(start, end + 1))
    assert reply.header("content-length") == str(len(reply.body))
    return covered


_range_text = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=60),
    st.lists(
        st.sampled_from(
            ["bytes=", "bytes =", "BYTES=", "items=", "0", "1", "5", "-", "-1", "-0", ",", " ",
             "99999999999999999999", "70000", "69999", "\t", "=", "+1", "0x1", "²"]
        ),
        max_size=20,
    ).map("".join),
)  # fmt: skip
_if_range = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=40),
    st.sampled_from(['"x"', 'W/"x"', "*", "Thu, 01 Jan 1970 00:00:00 GMT", "CURRENT-ETAG",
                     "CURRENT-DATE", "W/CURRENT-ETAG"]),
)  # fmt: skip


@given(
    where=st.sampled_from(["disk", "memory"]),
    size=st.sampled_from(SIZES),
    value=_range_text,
    if_range=_if_range,
    method=st.sampled_from(["GET", "HEAD"]),
)
@example(where="disk", size=1000, value="bytes=" + "0-1," * 10_000, if_range=None, method="GET")
@example(
    where="disk", size=1000, value="bytes=-99999999999999999999999", if_range=None, method="GET"
)
@example(where="disk", size=10, value="bytes=5-2", if_range=None, method="GET")
def test_any_range_gives_200_206_or_416(
    where: str, size: int, value: str, if_range: str | None, method: str
) -> None:
    headers = [("range", value)]
    if if_range is not None:
        current = _get(where, size, method="HEAD")
        etag, date = current.header("etag") or '"none"', current.header("last-modified") or ""
        if_range = if_range.replace("CURRENT-ETAG", etag).replace("CURRENT-DATE", date)
        headers.append(("if-range", if_range))
    reply = _get(where, size, *headers, method=method)
    assert reply.status in (200, 206, 416)
    if method == "HEAD":
        assert reply.body == b""
    elif reply.status == 200:
        assert reply.body == DATA[size]
    elif reply.status == 206:
        assert _covered(reply, size)
    else:
        assert reply.header("content-range") == f"bytes */{size}" and reply.body == b""


def _spec(size: int) -> st.SearchStrategy[tuple[str, set[int]]]:
    """One range-spec and the byte positions it asks for (empty: unsatisfiable)."""
    top = size + 5
    first_last = st.tuples(
        st.integers(min_value=0, max_value=top), st.integers(min_value=0, max_value=top)
    ).map(sorted)
    return st.one_of(
        first_last.map(lambda p: (f"{p[0]}-{p[1]}", set(range(p[0], min(p[1] + 1, size))))),
        st.integers(min_value=0, max_value=top).map(lambda a: (f"{a}-", set(range(a, size)))),
        st.integers(min_value=0, max_value=top).map(
            lambda n: (f"-{n}", set(range(max(0, size - n), size)) if n else set())
        ),
    )


@st.composite
def _range_sets(draw: st.DrawFn) -> tuple[str, int, str, set[int], int]:
    where = draw(st.sampled_from(["disk", "memory"]))
    size = draw(st.sampled_from([s for s in SIZES if s]))
    specs = draw(st.lists(_spec(size), min_size=1, max_size=MAX_RANGES + 3))
    spaces = draw(st.sampled_from(["", " ", "\t"]))
    header = "bytes=" + ("," + spaces).join(text for text, _ in specs)
    wanted: set[int] = set().union(*(positions for _, positions in specs))
    return where, size, header, wanted, len(specs)


@given(case=_range_sets())
@example(case=("disk", 100, "bytes=0-0,-1", {0, 99}, 2))
@example(case=("memory", 1000, "bytes=0-10,5-20,21-30", set(range(31)), 3))
@example(case=("disk", 70_000, "bytes=65530-65545", set(range(65530, 65546)), 1))
def test_satisfiable_ranges_give_exactly_the_requested_bytes(
    case: tuple[str, int, str, set[int], int],
) -> None:
    where, size, header, wanted, count = case
    reply = _get(where, size, ("range", header))
    if count > MAX_RANGES:
        # Too many ranges: ignored, the whole file (Starlette CVE-2025-62727).
        assert reply.status == 200 and reply.body == DATA[size]
    elif not wanted:
        assert reply.status == 416
    else:
        assert reply.status == 206
        assert _covered(reply, size) == wanted


@given(case=_range_sets(), validator=st.sampled_from(["etag", "date", "stale", "weak"]))
def test_if_range_applies_ranges_only_for_the_current_file(
    case: tuple[str, int, str, set[int], int], validator: str
) -> None:
    _, size, header, wanted, count = case
    current = _get("disk", size, method="HEAD")
    etag, date = current.header("etag") or "", current.header("last-modified") or ""
    value = {"etag": etag, "date": date, "stale": '"0-0"', "weak": "W/" + etag}[validator]
    reply = _get("disk", size, ("range", header), ("if-range", value))
    if validator in ("stale", "weak") or count > MAX_RANGES:
        assert reply.status == 200 and reply.body == DATA[size]
    elif not wanted:
        assert reply.status == 416
    else:
        assert reply.status == 206 and _covered(reply, size) == wanted


_validator = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=40),
    st.sampled_from(["*", "CURRENT-ETAG", "W/CURRENT-ETAG", '"a", CURRENT-ETAG', "CURRENT-DATE",
                     "Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
                     "Sun, 06 Nov 1994 08:49:37 GMT" * 3]),
)  # fmt: skip
_conditions = st.dictionaries(
    st.sampled_from(["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]),
    _validator,
    max_size=4,
)


@given(
    where=st.sampled_from(["disk", "memory"]),
    size=st.sampled_from(SIZES),
    conditions=_conditions,
    value=st.one_of(st.none(), _range_text),
    method=st.sampled_from(["GET", "HEAD"]),
)
def test_any_preconditions_give_a_consistent_answer(
    where: str, size: int, conditions: dict[str, str], value: str | None, method: str
) -> None:
    current = _get(where, size, method="HEAD")
    etag, date = current.header("etag") or '"none"', current.header("last-modified") or ""
    headers = [
        (name, text.replace("CURRENT-ETAG", etag).replace("CURRENT-DATE", date))
        for name, text in conditions.items()
    ]
    if value is not None:
        headers.append(("range", value))
    reply = _get(where, size, *headers, method=method)
    assert reply.status in (200, 206, 304, 412, 416)
    if reply.status in (304, 412):
        assert reply.body == b"" and reply.header("content-range") is None
    if reply.status == 304:
        # Only a GET or HEAD that asked for it, and never without a validator to compare.
        assert "if-none-match" in conditions or "if-modified-since" in conditions
    elif reply.status == 200 and method == "GET":
        assert reply.body == DATA[size]
    unguarded = "if-match" not in conditions and "if-unmodified-since" not in conditions
    if where == "disk" and unguarded and conditions.get("if-none-match") == "CURRENT-ETAG":
        assert reply.status == 304 and reply.header("etag") == etag

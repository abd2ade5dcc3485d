"""JSON body decoding under fuzz: ``await req.json()``.

Properties: any body gives 200 or 400 (415 for a non-JSON content type), never 500; a JSON
document encoded by the standard library decodes to the same value, types included; deep
nesting and huge numbers are 400; a body over the limit is 413 whether or not it declares
its length, and a malformed ``Content-Length`` is 400.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from kettle import Kettle, Request

from .harness import Harness, Reply, lazy

LIMIT = 16 * 1024
JSON_TYPES = ["application/json", "application/json; charset=utf-8", "application/ld+json",
              "APPLICATION/JSON"]  # fmt: skip

#: The value the last request decoded.
SEEN: list[Any] = []


def _setup(app: Kettle) -> None:
    async def decode(req: Request) -> str:
        SEEN[:] = [await req.json()]
        return "ok"

    app.add_route("/json", decode, ["POST"])
    # The hostile documents of SECURITY.md 12 are bigger than LIMIT: a route of their own.
    app.add_route("/big", decode, ["POST"], name="big", max_body_size="4MB")


harness = lazy(lambda: Harness(_setup, MAX_BODY_SIZE=LIMIT))


def _post(
    body: bytes, content_type: str = "application/json", path: str = "/json", **options: Any
) -> Reply:
    headers = [(b"content-type", content_type.encode("latin-1"))]
    headers += options.pop("headers", [(b"content-length", str(len(body)).encode())])
    SEEN.clear()
    return harness().request(path, "POST", headers=headers, body=body, **options)


_json_bytes = st.one_of(
    st.binary(max_size=200),
    st.lists(
        st.sampled_from([b"{", b"}", b"[", b"]", b'"', b"\\", b"\\u", b"d800", b"\\ud800",
                         b"\\udc00", b"\xed\xa0\x80", b":", b",", b"1", b"-", b"e", b"1e999",
                         b".", b"0", b"true", b"null", b"nul", b" ", b"\xff", b"\xc3\xa9",
                         b"\x00", b"NaN", b"Infinity"]),
        max_size=40,
    ).map(b"".join),
)  # fmt: skip


@given(body=_json_bytes, content_type=st.sampled_from(JSON_TYPES))
@example(body=b'"\\ud800"', content_type="application/json")
@example(body=b"", content_type="application/json")
def test_any_json_body_gives_200_400_or_413(body: bytes, content_type: str) -> None:
    reply = _post(body, content_type)
    assert reply.status in (200, 400, 413)
    assert reply.status != 413 or len(body) > LIMIT


@given(depth=st.integers(min_value=1, max_value=200_000), kind=st.sampled_from("[{"))
@example(depth=100_000, kind="[")
def test_deep_nesting_is_200_or_400(depth: int, kind: str) -> None:
    body = (
        (b"[" * depth + b"]" * depth) if kind == "[" else (b'{"a":' * depth + b"1" + b"}" * depth)
    )
    assert _post(body, path="/big").status in (200, 400)


@given(digits=st.integers(min_value=1, max_value=1_000_000), fraction=st.booleans())
@example(digits=1_000_000, fraction=False)
def test_huge_numbers_are_200_or_400(digits: int, fraction: bool) -> None:
    body = b"1" * digits + (b".5" if fraction else b"")
    reply = _post(body, path="/big")
    assert reply.status in (200, 400)
    if reply.status == 200:
        assert SEEN[0] == json.loads(body)


@given(
    content_type=st.one_of(
        st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=40),
        st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "json",
                         "application/jsonx", "application/json+xml", "multipart/form-data"]),
    ),
)  # fmt: skip
def test_json_only_from_a_json_content_type(content_type: str) -> None:
    reply = _post(b'{"a": 1}', content_type)
    media = content_type.partition(";")[0].strip().lower()
    is_json = media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
    assert reply.status == (200 if is_json else 415)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def _typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its type, so ``1 == 1.0 == True`` cannot pass."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


@given(value=_values, ascii_only=st.booleans(), indent=st.sampled_from([None, 0, 2]))
@example(value={"a": [1, 1.0, True, None, "\u2028"]}, ascii_only=True, indent=None)
@example(value=-0.0, ascii_only=False, indent=None)
def test_json_round_trips(value: Any, ascii_only: bool, indent: int | None) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode()
    reply = _post(body)
    if len(body) > LIMIT:
        assert reply.status == 413
        return
    assert reply.status == 200
    assert _typed(SEEN[0]) == _typed(value)


@given(extra=st.integers(min_value=-100, max_value=10_000), declared=st.booleans())
def test_a_body_over_the_limit_is_413(extra: int, declared: bool) -> None:
    body = b'"' + b"x" * (LIMIT - 2 + extra) + b'"'
    headers = [(b"content-length", str(len(body)).encode())] if declared else []
    reply = _post(body, headers=headers, chunk_size=1000)
    assert reply.status == (413 if len(body) > LIMIT else 200)


@given(
    values=st.lists(
        st.one_of(
            st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=25),
            st.integers().map(str),
        ),
        min_size=1,
        max_size=3,
    )
)
@example(values=["10000000000"])
@example(values=["-1"])
@example(values=["8", "8"])
@example(values=[" 8"])
def test_content_length_is_checked(values: list[str]) -> None:
    body = b"[1]"
    headers = [(b"content-length", v.encode("latin-1")) for v in values]
    reply = _post(body, headers=headers)
    stripped = values[0].strip()
    valid = len(values) == 1 and stripped.isascii() and stripped.isdigit()
    if not valid:
        assert reply.status == 400
    else:
        assert reply.status == (413 if int(stripped) > LIMIT else 200)

"""The query decoder under fuzz: ``req.query`` over raw ``query_string`` bytes.

Properties: any bytes give 200 or 400, never 500; what an encoder produces decodes back to
the same ordered pairs; on ASCII input kettle agrees with ``urllib.parse.parse_qsl`` wherever
it accepts, and refuses what ``parse_qsl`` could only decode lossily; over 1,000 pairs is 400.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode

from hypothesis import example, given
from hypothesis import strategies as st

from kettle import Kettle, Request

from .harness import Harness, lazy

LIMIT = 1000  # MAX_QUERY_PARAMS default


def _setup(app: Kettle) -> None:
    @app.get("/q")
    async def query(req: Request) -> dict[str, list[list[str]]]:
        return {"pairs": [[k, v] for k, v in req.query.multi_items()]}


harness = lazy(lambda: Harness(_setup))


def _pairs_of(reply_body: bytes) -> list[tuple[str, str]]:
    import json

    return [(k, v) for k, v in json.loads(reply_body)["pairs"]]


_query_bytes = st.one_of(
    st.binary(max_size=200),
    st.lists(
        st.sampled_from(
            [b"a", b"=", b"&", b"+", b"%", b"%2", b"%25", b"%41", b"%zz", b"%ff", b"%c3%a9",
             b"%c0%af", b"%ed%a0%80", b";", b"\xc3\xa9", b"\xff", b"\x00", b"%00", b" ", b"[",
             b"__proto__", b"]"]
        ),
        max_size=40,
    ).map(b"".join),
)  # fmt: skip


@given(query=_query_bytes)
@example(query=b"a[__proto__]=1&a[b]=2")
@example(query=b";" * 5000)
@example(query=b"a&" * 1000)
def test_any_query_string_gives_200_or_400(query: bytes) -> None:
    reply = harness().request("/q", query=query)
    assert reply.status in (200, 400)
    if reply.status == 200 and query.isascii():
        try:
            expected = parse_qsl(query.decode(), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise AssertionError("kettle accepted an escape that is not UTF-8") from None
        # kettle refuses bad escapes that parse_qsl passes through, so compare only here.
        assert _pairs_of(reply.body) == expected


_pairs = st.lists(st.tuples(st.text(), st.text()), max_size=30)


@given(pairs=_pairs)
@example(pairs=[("a[__proto__]", "1"), ("", ""), ("a b", "c+d"), ("&=", "%;")])
def test_urlencode_round_trips(pairs: list[tuple[str, str]]) -> None:
    reply = harness().request("/q", query=urlencode(pairs).encode())
    assert reply.status == 200
    # An empty key with an empty value encodes as "=", which still decodes to ("", "").
    assert _pairs_of(reply.body) == pairs


@given(pairs=_pairs)
def test_percent_encoding_without_plus_round_trips(pairs: list[tuple[str, str]]) -> None:
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    reply = harness().request("/q", query=query.encode())
    assert reply.status == 200
    assert _pairs_of(reply.body) == pairs


@given(
    count=st.integers(min_value=LIMIT - 5, max_value=20 * LIMIT),
    piece=st.sampled_from([b"a", b"a=1", b"k%20=v", b"=", b"%ff"]),
    empties=st.integers(min_value=0, max_value=3),
)
def test_more_than_the_limit_of_pairs_is_400(count: int, piece: bytes, empties: int) -> None:
    # Empty pieces ("a&&&") do not count as pairs.
    query = (b"&" * (empties + 1)).join([piece] * count)
    reply = harness().request("/q", query=query)
    if count > LIMIT:
        assert reply.status == 400
    else:
        # Under the limit only the escapes decide: %ff alone is invalid UTF-8.
        assert reply.status == (400 if piece == b"%ff" else 200)

"""The cookie parser and ``set_cookie`` under fuzz.

``req.cookies`` is read through raw ``Cookie`` headers (any latin-1 bytes, several header
lines); ``Response.set_cookie`` is called directly, since it validates what a handler
passes, not what a client sends. Properties: no header gives a 500; pairs in a header come
back with the first of duplicate names winning and name-less pieces skipped; ``set_cookie``
either raises ``ValueError`` or writes one safe line whose name and value a client can send
back and kettle reads unchanged.
"""

from __future__ import annotations

import json
import string

from hypothesis import example, given
from hypothesis import strategies as st

from kettle import Kettle, Request, Response

from .harness import Harness, lazy


def _setup(app: Kettle) -> None:
    @app.get("/c")
    async def cookies(req: Request) -> dict[str, dict[str, str]]:
        return {"cookies": req.cookies}


harness = lazy(lambda: Harness(_setup))


def _cookies(*lines: bytes) -> dict[str, str]:
    reply = harness().request("/c", headers=[(b"cookie", line) for line in lines])
    assert reply.status == 200
    parsed: dict[str, str] = json.loads(reply.body)["cookies"]
    return parsed


# RFC 6265 section 4.1.1, written out independently of kettle's tables.
_SEPARATORS = set('()<>@,;:\\"/[]?={} \t')
TOKEN = "".join(c for c in map(chr, range(0x21, 0x7F)) if c not in _SEPARATORS)
COOKIE_OCTETS = "".join(c for c in map(chr, range(0x21, 0x7F)) if c not in '",;\\')

_latin1 = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=120)


@given(lines=st.lists(_latin1, min_size=1, max_size=3))
@example(lines=["=__Host-sid=evil; __Host-sid=ok"])
@example(lines=['a="b"; a=c; ;;; =; x', '"q"="'])
@example(lines=["a=" + "x" * 9000])
def test_any_cookie_header_is_read_without_error(lines: list[str]) -> None:
    cookies = _cookies(*(line.encode("latin-1") for line in lines))
    for name, value in cookies.items():
        assert name and name == name.strip() and ";" not in name and "=" not in name
        assert ";" not in value


def test_a_nameless_piece_cannot_shadow_a_cookie() -> None:
    # Werkzeug CVE-2023-23934.
    assert _cookies(b"=__Host-sid=evil; __Host-sid=ok") == {"__Host-sid": "ok"}


_name = st.text(alphabet=TOKEN, min_size=1, max_size=10)
_value = st.text(alphabet=COOKIE_OCTETS, max_size=30)
# Pieces a client or a proxy may add that carry no cookie: no "=", or an empty name.
_noise = st.sampled_from(["", " ", "flag", "=x", " = y", "=="])


@given(
    pairs=st.lists(st.tuples(_name, _value), min_size=1, max_size=8),
    noise=st.lists(st.tuples(st.integers(min_value=0, max_value=8), _noise), max_size=4),
    quote=st.booleans(),
    lines=st.integers(min_value=1, max_value=3),
)
def test_cookie_pairs_round_trip_first_wins(
    pairs: list[tuple[str, str]], noise: list[tuple[int, str]], quote: bool, lines: int
) -> None:
    pieces = [f'{k}="{v}"' if quote else f"{k}={v}" for k, v in pairs]
    for index, junk in noise:
        pieces.insert(min(index, len(pieces)), junk)
    # Split over several Cookie lines, as HTTP/2 clients may send them.
    step = -(-len(pieces) // lines)
    chunks = ["; ".join(pieces[i : i + step]) for i in range(0, len(pieces), step)]
    expected: dict[str, str] = {}
    for k, v in pairs:
        expected.setdefault(k, v)
    assert _cookies(*(chunk.encode("latin-1") for chunk in chunks)) == expected


_any_text = st.text(max_size=20)


@given(
    key=st.one_of(_name, _any_text),
    value=st.one_of(_value, _any_text),
    path=st.one_of(st.none(), st.just("/"), _any_text),
    domain=st.one_of(st.none(), st.from_regex(r"\A[a-z0-9.-]{1,20}\Z"), _any_text),
)
@example(key="sid", value="a;b", path="/", domain=None)
@example(key="sid", value="ok", path="/\r\nSet-Cookie: x=1", domain=None)
@example(key="sid", value="ok", path="/", domain="a.com,b.com")
@example(key="s d", value="ok", path="/", domain=None)
def test_set_cookie_refuses_or_writes_one_safe_line(
    key: str, value: str, path: str | None, domain: str | None
) -> None:
    response = Response("")
    try:
        response.set_cookie(key, value, path=path, domain=domain, secure=True)
    except ValueError:
        # It must have had a reason: a name or value outside RFC 6265's grammar, or a
        # character that would split or extend the header.
        attrs_ok = all(
            not any(c in ";,\r\n\x00" or ord(c) < 0x20 or ord(c) > 0xFF for c in attr)
            for attr in (path, domain)
            if attr is not None
        )
        assert not (
            key and set(key) <= set(TOKEN) and set(value) <= set(COOKIE_OCTETS) and attrs_ok
        )
        return
    assert key and set(key) <= set(TOKEN)
    assert set(value) <= set(COOKIE_OCTETS)
    lines = response.headers.getlist("set-cookie")
    assert len(lines) == 1
    line = lines[0]
    assert not any(c in line for c in "\r\n\x00")
    expected_attrs = 1 + (path is not None) + (domain is not None) + 3  # SameSite Secure HttpOnly
    assert len(line.split("; ")) == expected_attrs
    # What a browser sends back is "name=value": kettle reads the same value.
    assert _cookies(line.partition(";")[0].encode("latin-1")) == {key: value}


@given(key=_name, value=_value)
@example(key="a", value="=b=")
@example(key="a", value="")
def test_set_cookie_round_trips_through_a_client(key: str, value: str) -> None:
    response = Response("")
    response.set_cookie(key, value)
    line = response.headers["set-cookie"]
    assert line.startswith(f"{key}={value}; ")
    assert _cookies(line.partition(";")[0].encode("latin-1")) == {key: value}


def test_the_alphabets_match_rfc_6265() -> None:
    # Guards the oracle above: the token excludes separators, cookie-octets DQUOTE etc.
    assert "=" not in TOKEN and "=" in COOKIE_OCTETS
    assert set(string.ascii_letters + string.digits) <= set(TOKEN)

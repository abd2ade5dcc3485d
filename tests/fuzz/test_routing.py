"""The router under fuzz: ``Kettle.match`` through raw ASGI scopes, and ``url_for`` round trips.

Paths go in as servers put them in the scope (already percent-decoded, any Unicode, NUL
included), so nothing normalises them first. Properties: no path or method gives a 500; an
over-long path is 414 and a NUL 400; a slash redirect never points at another host; and
``url_for(name, **params)`` followed by routing gives the same params back, for every
converter in the domain it accepts.
"""

from __future__ import annotations

import math
import string
import uuid
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from hypothesis import example, given
from hypothesis import strategies as st

from kettle import BadRequest, Kettle, Request

from .harness import Harness, lazy

MAX_PATH = 8192  # the MAX_PATH_LENGTH default

# (route name, pattern); each converter sits under a prefix of its own so that no two
# patterns can claim the same URL and a round trip has exactly one right answer.
ROUTES = [
    ("int", "/i/<int:v>"),
    ("int_signed", "/is/<int(signed=True):v>"),
    ("int_fixed", "/if/<int(fixed_digits=4):v>"),
    ("int_bounded", "/ib/<int(min=-5, max=100, signed=True):v>"),
    ("float", "/f/<float:v>"),
    ("float_signed", "/fs/<float(signed=True):v>"),
    ("uuid", "/u/<uuid:v>"),
    ("string", "/s/<v>"),
    ("string_len", "/sl/<string(minlength=2, maxlength=5):v>"),
    ("path", "/p/<path:v>"),
    ("path_edit", "/pe/<path:v>/edit"),
    ("path_int", "/pi/<path:v>/<int:n>"),
    ("any", "/a/<any(red, green, 'blue sky'):v>"),
    ("mix", "/mix/<int:a>/<b>/<path:c>/end"),
    ("literal", "/lit/ä ö%25?#;=&+"),
    ("users_new", "/users/new"),
    ("users_int", "/users/<int:v>"),
    ("users_name", "/users/<v>"),
    ("slash", "/slash/"),
]

#: What the last matched request carried: ``(route name, path params, query pairs)``; the
#: pairs are ``None`` for a query kettle refuses (the query has properties of its own).
SEEN: list[tuple[str, dict[str, Any], list[tuple[str, str]] | None]] = []


def _setup(app: Kettle) -> None:
    async def echo(req: Request, **params: Any) -> str:
        assert req.route is not None
        try:
            query: list[tuple[str, str]] | None = req.query.multi_items()
        except BadRequest:
            query = None
        SEEN[:] = [(req.route.name, dict(req.path_params), query)]
        return "ok"

    for name, pattern in ROUTES:
        app.add_route(pattern, echo, ("GET", "POST"), name=name)


router = lazy(lambda: Harness(_setup))

# Text a server can put in the scope's path: any Unicode but surrogates (servers decode
# UTF-8 with replacement), NUL and control characters included.
_segment_text = st.text(max_size=12)
_interesting = st.sampled_from(
    ["", ".", "..", "%2e", "%2f", "i", "is", "ib", "f", "u", "s", "sl", "p", "pe", "pi", "a",
     "mix", "end",
     "edit", "users", "new", "slash", "lit", "ä ö%25?#;=&+", "0", "-1", "1.5", "-0.0",
     "0000", "1e5", "²", "\x00", "\\", "//", "red", "blue sky",
     "12345678-1234-5678-1234-567812345678"]
)  # fmt: skip
_paths = st.one_of(
    st.text(max_size=80).map(lambda t: "/" + t),
    st.lists(st.one_of(_interesting, _segment_text), max_size=10).map(
        lambda parts: "/" + "/".join(parts)
    ),
)
_methods = st.one_of(
    st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    st.sampled_from(["FOO", "__init__", "get", "match", "CONNECT", "TRACE"]),
    st.from_regex(r"\A[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}\Z"),
)


_accept = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=60),
    st.sampled_from(["text/html", "text/html;q=nan, */*;q=1e999", "*/*;q=-1", ";;,,", "a/b/c"]),
)


@given(path=_paths, method=_methods, query=st.binary(max_size=40), accept=_accept)
@example(path="/a/..%2f..%2fadmin", method="GET", query=b"", accept=None)
@example(path="/a/%2e%2e/admin", method="GET", query=b"", accept=None)
@example(path="//evil.com/", method="GET", query=b"", accept=None)
@example(path="/slash", method="GET", query=b"x=\xff\r\n", accept=None)
@example(path="//slash", method="GET", query=b"", accept="text/html")
@example(path="/\\evil.com/", method="GET", query=b"", accept=None)
@example(path="/users/new/", method="GET", query=b"", accept=None)
def test_no_path_or_method_gives_a_server_error(
    path: str, method: str, query: bytes, accept: str | None
) -> None:
    headers = [] if accept is None else [(b"accept", accept.encode("latin-1"))]
    reply = router().request(path, method, query=query, headers=headers)
    assert reply.status < 500
    if reply.status in (301, 302, 307, 308):
        location = reply.header("location") or ""
        # Never scheme-relative (//host) nor a backslash browsers read as one (SECURITY 6).
        assert location.startswith("/")
        assert not location.startswith(("//", "/\\"))
    if "\x00" in path and len(path) <= MAX_PATH:
        assert reply.status == 400


_raw_paths = st.lists(
    st.one_of(
        st.sampled_from(["/", "a", "i", "s", "p", ".", "..", "%2e", "%2F", "%00", "%25"]),
        st.integers(min_value=0, max_value=255).map(lambda b: f"%{b:02X}"),
        st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@", max_size=4),
    ),
    max_size=16,
).map(lambda parts: ("/" + "".join(parts)).encode("ascii"))


@given(raw=_raw_paths)
@example(raw=b"/s/%ff")
@example(raw=b"/p/%c0%af")
@example(raw=b"/s/%ed%a0%80")
def test_any_raw_path_decoded_as_servers_do_gives_no_server_error(raw: bytes) -> None:
    # uvicorn and hypercorn: percent-decode the ASCII target, UTF-8 with replacement.
    path = unquote(raw.decode("ascii"))
    reply = router().request(path, raw_path=raw)
    assert reply.status < 500
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        # /s/%ff and /s/%fe must not reach a handler as the same U+FFFD value.
        assert len(path) > MAX_PATH or reply.status == 400


@given(
    extra=st.integers(min_value=1, max_value=4 * MAX_PATH),
    filler=st.sampled_from(["a", "/", "/a", "é", "%", "\x00", "i/"]),
    prefix=st.sampled_from(["/", "/p/", "/s/", "/i/"]),
)
def test_an_overlong_path_is_414(extra: int, filler: str, prefix: str) -> None:
    body = (filler * (MAX_PATH // len(filler) + extra))[: MAX_PATH + extra]
    reply = router().request(prefix + body)
    assert reply.status == 414


def _round_trip(name: str, /, **params: Any) -> dict[str, Any]:
    harness = router()
    url = harness.app.url_for(name, **params)
    assert url.isascii()
    path, _, query = url.partition("?")
    SEEN.clear()
    # As a server does: percent-decode the path (UTF-8, with replacement) into the scope.
    reply = harness.request(unquote(path), raw_path=path.encode(), query=query.encode())
    assert reply.status == 200, (url, reply.status, reply.body[:200])
    assert SEEN and SEEN[0][0] == name, (url, SEEN)
    return SEEN[0][1]


@given(v=st.integers(min_value=0, max_value=10**30))
def test_int_round_trips(v: int) -> None:
    assert _round_trip("int", v=v) == {"v": v}


@given(v=st.integers(min_value=-(10**30), max_value=10**30))
def test_signed_int_round_trips(v: int) -> None:
    assert _round_trip("int_signed", v=v) == {"v": v}


@given(v=st.integers(min_value=0, max_value=9999))
def test_fixed_digits_int_round_trips(v: int) -> None:
    assert _round_trip("int_fixed", v=v) == {"v": v}


@given(v=st.integers(min_value=-5, max_value=100))
def test_bounded_int_round_trips(v: int) -> None:
    assert _round_trip("int_bounded", v=v) == {"v": v}


def _positional(x: float) -> bool:
    # str() of a float below 1e-4 or from 1e16 up uses an exponent, which no route matches.
    return "e" not in repr(x)


_finite = st.floats(allow_nan=False, allow_infinity=False)


@given(v=_finite.filter(lambda x: x >= 0 and math.copysign(1, x) > 0 and _positional(x)))
@example(v=0.0)
@example(v=0.1)
def test_float_round_trips(v: float) -> None:
    assert _round_trip("float", v=v) == {"v": v}


@given(v=_finite.filter(_positional))
@example(v=-2.5)
def test_signed_float_round_trips(v: float) -> None:
    params = _round_trip("float_signed", v=v)
    assert params == {"v": v}
    assert math.copysign(1, params["v"]) == math.copysign(1, v)


@given(
    v=st.one_of(
        st.floats(min_value=1e16, allow_infinity=False),
        st.floats(min_value=0, max_value=1e-4, exclude_min=True, exclude_max=True),
    )
)
@example(v=1e16)
@example(v=1e-05)
def test_float_round_trips_in_exponent_range(v: float) -> None:
    assert _round_trip("float", v=v) == {"v": v}


@given(v=st.uuids())
def test_uuid_round_trips(v: uuid.UUID) -> None:
    assert _round_trip("uuid", v=v) == {"v": v}


# A string segment: any text but "/", NUL and the dot segments (the converter refuses those).
_segment = st.text(min_size=1).filter(
    lambda s: "/" not in s and "\x00" not in s and s not in (".", "..")
)


@given(v=_segment)
@example(v="ä ö%25?#;=&+")
@example(v="%2F")
@example(v="...")
def test_string_round_trips(v: str) -> None:
    assert _round_trip("string", v=v) == {"v": v}


_path_value = (
    st.lists(
        st.one_of(_segment, st.just(""), st.sampled_from(["edit", "end", "%2e%2e"])),
        min_size=1,
        max_size=6,
    )
    .map("/".join)
    .filter(bool)
)


@given(v=_path_value)
@example(v="a//b/")
@example(v="/abs")
def test_path_round_trips(v: str) -> None:
    assert _round_trip("path", v=v) == {"v": v}


@given(v=_path_value)
@example(v="edit")
@example(v="x/edit/edit")
def test_path_before_a_literal_round_trips(v: str) -> None:
    assert _round_trip("path_edit", v=v) == {"v": v}


@given(v=_path_value, n=st.integers(min_value=0))
@example(v="1/2", n=3)
def test_path_before_a_converter_round_trips(v: str, n: int) -> None:
    assert _round_trip("path_int", v=v, n=n) == {"v": v, "n": n}


@given(v=st.sampled_from(["red", "green", "blue sky"]))
def test_any_round_trips(v: str) -> None:
    assert _round_trip("any", v=v) == {"v": v}


@given(a=st.integers(min_value=0), b=_segment, c=_path_value)
@example(a=0, b="end", c="end/end")
def test_mixed_pattern_round_trips(a: int, b: str, c: str) -> None:
    assert _round_trip("mix", a=a, b=b, c=c) == {"a": a, "b": b, "c": c}


def _follow_slash_redirect(v: str, query: bytes) -> tuple[str, dict[str, Any]]:
    """Request ``/s/<v>/?query``; return the redirect's query and what following it matched."""
    harness = router()
    reply = harness.request(f"/s/{v}/", query=query)
    assert reply.status == 308
    location = reply.header("location") or ""
    path, _, new_query = location.partition("?")
    assert location.isascii() and not location.startswith("//")
    SEEN.clear()
    followed = harness.request(unquote(path), raw_path=path.encode(), query=new_query.encode())
    assert followed.status == 200 and SEEN and SEEN[0][0] == "string"
    return new_query, SEEN[0][1]


# What a client may put in a query: visible ASCII but "#", which ends the URL's query.
_visible_query = st.binary(max_size=30).map(
    lambda b: bytes(c for c in b if 0x21 <= c <= 0x7E and c != 0x23)
)


@given(v=_segment.filter(lambda s: "%" not in s), query=_visible_query)
@example(v="ä ö?", query=b"a=1&b=%zz;c=+")
def test_a_slash_redirect_round_trips(v: str, query: bytes) -> None:
    new_query, params = _follow_slash_redirect(v, query)
    assert params == {"v": v}
    assert unquote_to_bytes(new_query) == unquote_to_bytes(query)


_no_slash = st.characters(exclude_characters="/\x00", exclude_categories=["Cs"])


@given(
    v=st.builds(
        "".join,
        st.tuples(
            st.text(alphabet=_no_slash, max_size=5),
            st.sampled_from(["%", "%41", "%2F", "%25", "%zz", "%c3%a9"]),
            st.text(alphabet=_no_slash, max_size=5),
        ),
    )
)
@example(v="a%41")
def test_a_slash_redirect_keeps_a_percent_sign_in_the_path(v: str) -> None:
    assert _follow_slash_redirect(v, b"")[1] == {"v": v}


@given(
    query=st.builds(
        lambda a, b, c: a + bytes([b]) + c,
        st.binary(max_size=15),
        st.integers(min_value=0x80, max_value=0xFF),
        st.binary(max_size=15),
    )
)
@example(query=b"q=\xc3\xa9")
def test_a_slash_redirect_keeps_raw_query_bytes(query: bytes) -> None:
    new_query, _ = _follow_slash_redirect("x", query)
    assert unquote_to_bytes(new_query) == query


_query_params = st.dictionaries(
    st.text(min_size=1).filter(lambda k: k != "v" and not k.startswith("_")),
    st.one_of(st.text(), st.lists(st.text(), min_size=1, max_size=3)),
    max_size=5,
)


@given(extra=_query_params)
@example(extra={"q": "a&b=c", "+": ["%", " "]})
@example(extra={"name": ""})
def test_url_for_query_params_round_trip(extra: dict[str, str | list[str]]) -> None:
    _round_trip("int", v=7, **extra)
    expected = [
        (k, item)
        for k, value in extra.items()
        for item in ([value] if isinstance(value, str) else value)
    ]
    assert SEEN[0][2] == expected


def test_a_literal_with_reserved_characters_round_trips() -> None:
    assert _round_trip("literal") == {}

"""The session signer under fuzz: signed cookies (the default backend) and signed ids (memory).

Properties: data saved in a session comes back unchanged on the next request; a cookie
signed with an older key (``SECRET_KEY_FALLBACKS``) still loads and is re-signed; a cookie
with any edit (a flipped, dropped or added character, a cut, parts swapped) or any garbage
loads as an empty, new session and never as different data, and never gives a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from kettle import Kettle, Request

from .harness import Harness, Reply, lazy

OLD_KEY = "old-fuzz-secret-" + "o" * 32


def _setup(app: Kettle) -> None:
    @app.post("/set")
    async def store(req: Request) -> str:
        req.session.clear()
        req.session.update(await req.json())
        return "ok"

    @app.get("/get")
    async def load(req: Request) -> dict[str, Any]:
        return {"data": dict(req.session), "new": req.session.new}


cookie_app = lazy(lambda: Harness(_setup))
memory_app = lazy(lambda: Harness(_setup, SESSION_BACKEND="memory"))
# Signs with OLD_KEY: what cookie_app saw before its key was rotated.
old_app = lazy(lambda: Harness(_setup, SECRET_KEY=OLD_KEY))
rotated_app = lazy(lambda: Harness(_setup, SECRET_KEY_FALLBACKS=[OLD_KEY]))
HARNESSES = {"cookie": cookie_app, "memory": memory_app}


def _session_cookie(reply: Reply) -> str | None:
    for line in reply.header_list("set-cookie"):
        match = re.match(r"session=([^;]*)", line)
        if match:
            return match[1]
    return None


def _save(harness: Harness, data: dict[str, Any]) -> str:
    body = json.dumps(data).encode()
    reply = harness.request(
        "/set", "POST", headers=[(b"content-type", b"application/json")], body=body
    )
    assert reply.status == 200
    cookie = _session_cookie(reply)
    assert cookie
    return cookie


def _load(harness: Harness, cookie: str) -> tuple[dict[str, Any], bool, Reply]:
    reply = harness.request("/get", headers=[(b"cookie", f"session={cookie}".encode("latin-1"))])
    assert reply.status == 200
    loaded = json.loads(reply.body)
    return loaded["data"], loaded["new"], reply


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_data = st.dictionaries(st.text(max_size=10), _json, min_size=1, max_size=5)


@given(backend=st.sampled_from(sorted(HARNESSES)), data=_data)
@example(backend="cookie", data={"user": "ä\u2028<script>", "n": 2**64 - 1, "f": -0.0})
def test_session_data_round_trips(backend: str, data: dict[str, Any]) -> None:
    harness = HARNESSES[backend]()
    loaded, new, _ = _load(harness, _save(harness, data))
    assert not new
    assert loaded == data


@given(data=_data)
def test_a_cookie_signed_with_an_older_key_loads_and_is_re_signed(data: dict[str, Any]) -> None:
    old_cookie = _save(old_app(), data)
    loaded, new, reply = _load(rotated_app(), old_cookie)
    assert loaded == data and not new
    fresh = _session_cookie(reply)
    assert fresh and fresh != old_cookie
    # The new cookie is signed with the current key: the app with only that key reads it.
    assert _load(cookie_app(), fresh)[0] == data


def test_a_cookie_signed_with_an_unknown_key_is_an_empty_session() -> None:
    cookie = _save(old_app(), {"admin": True})
    assert _load(cookie_app(), cookie)[:2] == ({}, True)


_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


@st.composite
def _tampered(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    backend = draw(st.sampled_from(sorted(HARNESSES)))
    data = draw(_data)
    cookie = list(_save(HARNESSES[backend](), data))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = draw(st.integers(min_value=0, max_value=max(0, len(cookie) - 1)))
        op = draw(st.sampled_from(["replace", "delete", "insert", "cut", "swap", "double"]))
        if op == "replace" and cookie:
            cookie[where] = draw(st.sampled_from(_URLSAFE))
        elif op == "delete" and cookie:
            del cookie[where]
        elif op == "insert":
            cookie.insert(where, draw(st.sampled_from(_URLSAFE + "=\"'%")))
        elif op == "cut":
            del cookie[where:]
        elif op == "swap":
            parts = "".join(cookie).split(".")
            draw(st.randoms()).shuffle(parts)
            cookie = list(".".join(parts))
        else:
            cookie = cookie + cookie
    return backend, data, "".join(cookie)


@given(case=_tampered())
def test_a_tampered_cookie_is_an_empty_session_never_other_data(
    case: tuple[str, dict[str, Any], str],
) -> None:
    backend, data, cookie = case
    loaded, new, _ = _load(HARNESSES[backend](), cookie)
    # An edit may leave the signed bytes unchanged (base64's spare low bits), so the
    # original data may still load; different data never can.
    assert (loaded, new) == ({}, True) or loaded == data


_garbage = st.one_of(
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters=";"),
        max_size=200,
    ),
    st.text(alphabet=_URLSAFE, max_size=300),
    st.from_regex(r"\A\.?[A-Za-z0-9_-]{0,80}\.[A-Za-z0-9_-]{0,10}\.[A-Za-z0-9_-]{0,40}\Z"),
)


@given(backend=st.sampled_from(sorted(HARNESSES)), cookie=_garbage)
@example(backend="cookie", cookie="x" * 8192)
@example(
    backend="cookie",
    cookie=".eJyrVkrOz0lNUbJSSs7PS8ksSk1RqgUAVtYH-A.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb",
)
@example(backend="memory", cookie='"abc.def.ghi"')
def test_a_garbage_cookie_is_an_empty_session(backend: str, cookie: str) -> None:
    assert _load(HARNESSES[backend](), cookie)[:2] == ({}, True)

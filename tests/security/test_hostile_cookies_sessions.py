"""SECURITY.md, hostile inputs 26 to 30: cookies and sessions.

Session cookies are forged with itsdangerous, the signing library kettle uses, under the
salt kettle documents (``SessionInterface.salt``): validly signed but too old, signed with
the older key, or tampered with after signing.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from kettle import Response, SessionInterface

from .conftest import Hostile, new_probe, reached, send
from .hostile_app import OLD_SECRET_KEY, SECRET_KEY

#: kettle's default PERMANENT_SESSION_LIFETIME: 31 days.
LIFETIME = 31 * 24 * 3600


def serializer(key: str, age: int = 0) -> URLSafeTimedSerializer:
    """Signs like kettle's session cookies, with a timestamp ``age`` seconds in the past."""

    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    return URLSafeTimedSerializer(key, salt=SessionInterface.salt, signer=Backdated)


def session_cookie(reply_cookies: list[str]) -> str:
    """The value of the ``session`` cookie among ``Set-Cookie`` lines."""
    for line in reply_cookies:
        name, _, rest = line.partition("=")
        if name == "session":
            return rest.split(";", 1)[0]
    raise AssertionError(f"no session cookie in {reply_cookies}")


def read_session(target: Hostile, cookie: str) -> tuple[int, Any, list[str]]:
    """``/session/read`` with ``Cookie: session=<cookie>``: status, session, Set-Cookie.

    Every answer built from a session says ``Vary: Cookie``, whatever the cookie was
    (Flask CVE-2023-30861: a shared cache must not hand one user's page to another).
    """
    reply = send(target, "/session/read", headers=(f"Cookie: session={cookie}",))
    assert "cookie" in (reply.header("vary") or "").lower(), reply
    data = reply.json()["session"] if reply.status == 200 else None
    return reply.status, data, reply.header_list("set-cookie")


@pytest.fixture
def valid_cookie(server: Hostile) -> str:
    reply = send(server, "/session/write?user=ada")
    assert reply.status == 200, reply
    return session_cookie(reply.header_list("set-cookie"))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("=__Host-sid=evil; __Host-sid=ok", "ok"),
        ("__Host-sid=ok; __Host-sid=evil", "ok"),
        ("=__Host-sid=evil", None),
        ('__Host-sid="ok"; =__Host-sid=evil', "ok"),
        ("  =__Host-sid=evil;__Host-sid=ok ;", "ok"),
    ],
)
def test_case_26_nameless_cookie_cannot_shadow_a_host_cookie(
    server: Hostile, header: str, expected: str | None
) -> None:
    """Werkzeug CVE-2023-23934: ``=__Host-sid=evil`` must not be read as ``__Host-sid``."""
    reply = send(server, "/cookie/__Host-sid", headers=(f"Cookie: {header}",))
    assert (reply.status, reply.json()) == (200, {"value": expected})


def _flip(text: str, index: int) -> str:
    char = text[index]
    return text[:index] + ("A" if char != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: _flip(c, -1), id="signature-bit"),
        pytest.param(lambda c: _flip(c, 3), id="payload-bit"),
        pytest.param(lambda c: c[:-6], id="truncated"),
        pytest.param(lambda c: c.split(".")[0], id="payload-only"),
        pytest.param(lambda c: "garbage!%$", id="garbage"),
        pytest.param(lambda c: "...", id="dots"),
        pytest.param(lambda c: "x" * 8192, id="8kb"),
        pytest.param(lambda c: c + "." + c, id="doubled"),
    ],
)
def test_case_27_tampered_session_cookie_is_an_empty_session(
    server: Hostile, valid_cookie: str, tamper: Any
) -> None:
    assert read_session(server, valid_cookie)[:2] == (200, {"user": "ada"})
    status, data, _ = read_session(server, tamper(valid_cookie))
    assert (status, data) == (200, {})


def test_case_28_session_past_max_age_is_rejected(server: Hostile, valid_cookie: str) -> None:
    payload = serializer(SECRET_KEY).loads(valid_cookie)
    expired = serializer(SECRET_KEY, age=LIFETIME + 3600).dumps(payload)
    # The signature is valid: only the server-side max-age refuses it.
    assert serializer(SECRET_KEY).loads(expired) == payload
    assert read_session(server, expired)[:2] == (200, {})
    # Control: the same forgery, fresh, is accepted.
    fresh = serializer(SECRET_KEY, age=60).dumps(payload)
    assert read_session(server, fresh)[:2] == (200, {"user": "ada"})


def test_case_29_older_key_is_accepted_and_resigned(server: Hostile, valid_cookie: str) -> None:
    payload = serializer(SECRET_KEY).loads(valid_cookie)
    old = serializer(OLD_SECRET_KEY, age=60).dumps(payload)
    status, data, cookies = read_session(server, old)
    assert (status, data) == (200, {"user": "ada"})
    resigned = session_cookie(cookies)
    assert serializer(SECRET_KEY).loads(resigned, max_age=LIFETIME) == payload
    with pytest.raises(BadSignature):
        serializer(OLD_SECRET_KEY).loads(resigned)


def test_case_29_unknown_key_is_refused(server: Hostile, valid_cookie: str) -> None:
    payload = serializer(SECRET_KEY).loads(valid_cookie)
    forged = serializer("some-other-key-" + "z" * 24).dumps(payload)
    assert read_session(server, forged)[:2] == (200, {})


BAD_TEXT = ["a;b", "a\r\nSet-Cookie: evil=1", "a\nb", "a,b", "a\rb"]


@pytest.mark.parametrize("text", BAD_TEXT)
@pytest.mark.parametrize("field", ["name", "value", "path", "domain"])
def test_case_30_set_cookie_with_separators_raises(field: str, text: str) -> None:
    """Cookie CVE-2024-47764: a separator in any field would forge attributes or cookies."""
    response = Response(b"")
    kwargs: dict[str, Any] = {field: text} if field in ("path", "domain") else {}
    name = text if field == "name" else "c"
    value = text if field == "value" else "v"
    with pytest.raises(ValueError, match="invalid character"):
        response.set_cookie(name, value, **kwargs)


@pytest.mark.parametrize("text", ["a%3Bb", "a%0D%0ASet-Cookie:%20evil=1", "a%2Cb", "a%0Ab"])
@pytest.mark.parametrize("field", ["name", "value", "path", "domain"])
def test_case_30_set_cookie_from_request_input_is_a_500_without_the_cookie(
    server: Hostile, field: str, text: str
) -> None:
    probe = new_probe()
    reply = send(server, f"/set-cookie?field={field}&text={text}", probe=probe)
    assert reached(server, probe)["handler"]
    assert reply.status == 500, reply
    assert reply.header_list("set-cookie") == []
    assert all(name != "evil" for name, _ in reply.headers)

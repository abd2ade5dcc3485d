"""Cookie parsing (request side) and ``Set-Cookie`` formatting (response side)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal

__all__ = ["format_set_cookie", "parse_cookie_header"]

# RFC 6265 cookie-octet: printable US-ASCII except space, DQUOTE, comma, semicolon, backslash.
_COOKIE_OCTETS = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('",;\\')
_TOKEN_CHARS = _COOKIE_OCTETS - set("()<>@:/[]?={}")
_FORBIDDEN_IN_ATTRS = frozenset(";\r\n,\x00")

SameSite = Literal["lax", "strict", "none", "Lax", "Strict", "None"]


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header into a dict.

    Pieces without a name (``=value``) are skipped, so ``=__Host-sid=evil; __Host-sid=ok``
    gives ``ok`` (Werkzeug CVE-2023-23934); the first of duplicate names wins, as browsers
    send the most specific cookie first; surrounding double quotes are removed.
    """
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for piece in header.split(";"):
        name, sep, value = piece.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies.setdefault(name, value)
    return cookies


def _check(what: str, value: str, allowed: frozenset[str] | None) -> None:
    if allowed is not None:
        bad = next((ch for ch in value if ch not in allowed), None)
    else:
        bad = next((ch for ch in value if ch in _FORBIDDEN_IN_ATTRS or ord(ch) < 0x20), None)
    if bad is not None:
        raise ValueError(
            f"invalid character {bad!r} in cookie {what} {value!r}: cookie values must be "
            "printable ASCII without spaces, quotes, backslashes, ';' or ','; "
            "encode the value first"
        )


def format_set_cookie(
    key: str,
    value: str = "",
    *,
    max_age: int | None = None,
    expires: datetime | int | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = True,
    samesite: SameSite | None = "lax",
    partitioned: bool = False,
) -> str:
    """The value of a ``Set-Cookie`` header; a ``;``, ``,``, CR or LF anywhere is a ValueError."""
    if not key:
        raise ValueError("a cookie needs a name")
    _check("name", key, _TOKEN_CHARS)
    _check("value", value, _COOKIE_OCTETS)
    parts = [f"{key}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        when = (
            datetime.fromtimestamp(expires, UTC)
            if isinstance(expires, int)
            else expires.astimezone(UTC)
        )
        parts.append(f"Expires={format_datetime(when, usegmt=True)}")
    if path is not None:
        _check("path", path, None)
        parts.append(f"Path={path}")
    if domain is not None:
        _check("domain", domain, None)
        parts.append(f"Domain={domain}")
    if samesite is not None:
        normal = samesite.capitalize()
        if normal not in ("Lax", "Strict", "None"):
            raise ValueError(f"samesite must be 'lax', 'strict' or 'none', not {samesite!r}")
        if normal == "None" and not secure:
            raise ValueError("samesite='none' requires secure=True (browsers drop it otherwise)")
        parts.append(f"SameSite={normal}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)

"""Strict ``application/x-www-form-urlencoded`` decoding (query strings and form bodies).

Unlike ``urllib.parse.parse_qsl`` this refuses what it cannot decode faithfully: a bad
percent-escape or invalid UTF-8 is a 400, never silently replaced, and the number of pairs
is capped before any decoding happens, so a million ``a&`` pairs cost one ``count``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from .exceptions import BadRequest

_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


class TooManyFields(BadRequest):
    """More pairs than the limit allows."""


def _decode(part: bytes, what: str) -> str:
    if b"+" in part:
        part = part.replace(b"+", b" ")
    if b"%" in part:
        if _BAD_ESCAPE.search(part):
            raise BadRequest(f"invalid percent-escape in {what}")
        part = unquote_to_bytes(part)
    try:
        return part.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"invalid UTF-8 in {what}") from None


def parse_urlencoded(
    data: bytes | str, max_fields: int, what: str = "query string"
) -> list[tuple[str, str]]:
    """Decode ``a=1&b=2&a=3`` into ordered pairs.

    Only ``&`` separates pairs (``;`` is data, as the WHATWG URL standard says); blank values
    are kept, empty pieces skipped. More than ``max_fields`` pairs raises
    :class:`TooManyFields` before any decoding.
    """
    raw = data.encode("latin-1") if isinstance(data, str) else data
    if not raw:
        return []
    if raw.count(b"&") >= max_fields and len([p for p in raw.split(b"&") if p]) > max_fields:
        raise TooManyFields(f"too many fields in {what} (limit {max_fields})")
    pairs: list[tuple[str, str]] = []
    for piece in raw.split(b"&"):
        if not piece:
            continue
        key, sep, value = piece.partition(b"=")
        pairs.append((_decode(key, what), _decode(value, what) if sep else ""))
    return pairs

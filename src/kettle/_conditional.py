"""HTTP validators, preconditions and byte ranges, for :mod:`kettle.files` and static folders.

The header logic of conditional and partial requests, apart from the responses that apply
it: strong ``ETag`` values from file metadata, HTTP dates, entity-tag matching, the
precondition order of RFC 9110 §13.2.2, ``If-Range``, and ``Range`` parsing. Every header
is parsed in time bounded by its length, hostile ``Range`` headers included.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from email.utils import formatdate, mktime_tz, parsedate_tz

#: Ranges one request may ask for; a longer range-set is ignored and the whole file sent.
MAX_RANGES = 16

_HUGE = 1 << 62


def file_etag(info: os.stat_result, suffix: str = "") -> str:
    """The strong ``ETag`` of a file: its mtime in nanoseconds and its size.

    Metadata rather than a content hash, so that answering costs no read of the file; any
    write changes the mtime. ``suffix`` tells variants apart (``"br"`` for ``x.css.br``).
    """
    tag = f"{info.st_mtime_ns:x}-{info.st_size:x}"
    return f'"{tag}-{suffix}"' if suffix else f'"{tag}"'


def http_date(seconds: int) -> str:
    """``seconds`` since the epoch as an HTTP date (``Last-Modified``)."""
    return formatdate(seconds, usegmt=True)


def parse_date(value: str) -> int | None:
    """An HTTP date as seconds since the epoch, or ``None`` when it is not one."""
    # Dates are short; anything longer is junk, refused before parsing.
    if len(value) > 64:
        return None
    try:
        parts = parsedate_tz(value)
        return None if parts is None else mktime_tz(parts)
    except (TypeError, ValueError, OverflowError):
        return None


def etag_matches(header: str, etag: str | None, *, weak: bool) -> bool:
    """Whether the entity-tag list ``header`` matches ``etag`` (RFC 9110 §8.8.3.2)."""
    if header.strip() == "*":
        return True  # a file being served has a current representation
    # PERF: no tag can match unless ours occurs in the header; most do not, so skip the scan.
    if etag is None or etag not in header:
        return False
    for item in header.split(","):
        tag = item.strip()
        is_weak = tag.startswith("W/")
        if tag.removeprefix("W/") == etag and (weak or not is_weak):
            return True
    return False


def precondition(
    headers: Mapping[str, str], method: str, etag: str | None, mtime: int | None
) -> int:
    """304 or 412 when a precondition decides the answer, else 0 (RFC 9110 §13.2.2)."""
    value = headers.get("if-match")
    if value is not None:
        if not etag_matches(value, etag, weak=False):
            return 412
    elif mtime is not None and (value := headers.get("if-unmodified-since")) is not None:
        date = parse_date(value)
        if date is not None and mtime > date:
            return 412
    safe = method in ("GET", "HEAD")
    value = headers.get("if-none-match")
    if value is not None:  # when present, If-Modified-Since is ignored
        if etag_matches(value, etag, weak=True):
            return 304 if safe else 412
    elif safe and mtime is not None and (value := headers.get("if-modified-since")) is not None:
        date = parse_date(value)
        if date is not None and mtime <= date:
            return 304
    return 0


def if_range_holds(value: str, etag: str | None, mtime: int | None) -> bool:
    """Whether an ``If-Range`` value lets the ``Range`` apply (RFC 9110 §13.1.5)."""
    # If-Range needs a strong match: an entity-tag equal to ours, or our exact date.
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    date = parse_date(value)
    return date is not None and date == mtime


def _position(text: str) -> int:
    # Positions past 18 digits cannot be in any file; int() of a long string is skipped.
    if not (text.isdigit() and text.isascii()):
        raise ValueError(text)
    return int(text) if len(text) <= 18 else _HUGE


def parse_ranges(header: str, size: int, max_ranges: int = MAX_RANGES) -> list[range] | None:
    """The byte ranges of a ``Range`` header, in bounded time; ``None`` means ignore it.

    Returns ``None`` for another unit, bad syntax or more than ``max_ranges`` ranges (the
    whole file is then sent), ``[]`` when no range is satisfiable (416), else the ranges,
    coalesced when they overlap or touch (RFC 9110 §14.2, §14.1.2).
    """
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    # PERF: at most max_ranges splits, so a header of 10,000 ranges costs no more than 17
    # (Starlette CVE-2025-62727: quadratic work on many ranges).
    pieces = spec.split(",", max_ranges)
    if len(pieces) > max_ranges:
        return None
    ranges: list[range] = []
    specs = 0
    try:
        for piece in pieces:
            first, dash, last = piece.strip().partition("-")
            if not dash:
                if first:
                    return None
                continue  # an empty list element
            specs += 1
            if not first:
                suffix = _position(last)
                if suffix:
                    ranges.append(range(max(0, size - suffix), size))
                continue
            start = _position(first)
            end = _position(last) + 1 if last else size
            if last and end <= start:
                return None  # last-pos before first-pos: invalid
            if start < size:
                ranges.append(range(start, min(end, size)))
    except ValueError:
        return None
    if not specs:
        return None  # "bytes=" or "bytes=,": no range-spec at all
    if len(ranges) > 1:
        ranges.sort(key=lambda r: r.start)
        merged = [ranges[0]]
        for r in ranges[1:]:
            if r.start <= merged[-1].stop:
                merged[-1] = range(merged[-1].start, max(merged[-1].stop, r.stop))
            else:
                merged.append(r)
        ranges = merged
    return ranges

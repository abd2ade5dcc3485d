"""``Accept`` header negotiation: pick the best of the types a handler can produce."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

__all__ = ["best_match", "parse_accept"]


@lru_cache(maxsize=256)
def parse_accept(header: str) -> tuple[tuple[str, float], ...]:
    """``(media range, quality)`` pairs of an ``Accept`` header, in the client's order.

    Malformed qualities count as 0 (not acceptable) rather than raising. At most 64 ranges
    are read (a bound on hostile headers). Cached: browsers send the same few headers over
    and over.
    """
    ranges: list[tuple[str, float]] = []
    for item in header.split(",")[:64]:
        media, *params = item.split(";")
        media = media.strip().lower()
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        ranges.append((media, quality))
    return tuple(ranges)


def _matches(media_range: str, offered: str) -> bool:
    if media_range in ("*/*", "*"):
        return True
    kind, _, sub = media_range.partition("/")
    offer_kind, _, offer_sub = offered.partition("/")
    return kind == offer_kind and (sub == "*" or sub == offer_sub)


def best_match(header: str | None, offered: Sequence[str]) -> str | None:
    """The offered type the client prefers most; ``None`` if it accepts none of them.

    Each offer takes the quality of the most specific range that matches it
    (``text/html;q=0, */*`` refuses HTML). Ties go to the offer whose range the client
    listed first, as in Express, then to the order of ``offered``.
    """
    if not offered:
        return None
    if not header:
        return offered[0]
    ranges = parse_accept(header)
    best: str | None = None
    best_key = (0.0, 0)
    for offer in offered:
        wanted = offer.lower()
        matching = [
            (2 - media.count("*"), quality, -index)
            for index, (media, quality) in enumerate(ranges)
            if _matches(media, wanted)
        ]
        if not matching:
            continue
        _, quality, position = max(matching)
        key = (quality, position)
        if quality > 0 and key > best_key:
            best, best_key = offer, key
    return best

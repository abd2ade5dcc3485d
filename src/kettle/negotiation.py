"""``Accept`` header negotiation: pick the best of the types a handler can produce."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

__all__ = ["best_match", "parse_accept"]


@lru_cache(maxsize=256)
def parse_accept(header: str) -> tuple[tuple[str, float], ...]:
    """``(media range, quality)`` pairs of an ``Accept`` header, highest quality first.

    Malformed qualities count as 0 (not acceptable) rather than raising. Cached: browsers
    send the same few headers over and over.
    """
    ranges: list[tuple[str, float, int]] = []
    for index, item in enumerate(header.split(",")[:64]):  # a bound on hostile headers
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
        ranges.append((media, quality, index))
    # Higher quality first; among equals, more specific ranges first, then header order.
    ranges.sort(key=lambda r: (-r[1], r[0].count("*"), r[2]))
    return tuple((media, q) for media, q, _ in ranges)


def _matches(media_range: str, offered: str) -> bool:
    if media_range in ("*/*", "*"):
        return True
    kind, _, sub = media_range.partition("/")
    offer_kind, _, offer_sub = offered.partition("/")
    return kind == offer_kind and (sub == "*" or sub == offer_sub)


def best_match(header: str | None, offered: Sequence[str]) -> str | None:
    """The offered type the client prefers most; ``None`` if it accepts none of them."""
    if not offered:
        return None
    if not header:
        return offered[0]
    best: str | None = None
    best_q = 0.0
    for offer in offered:
        wanted = offer.lower()
        # The most specific matching range decides (``text/html;q=0, */*`` refuses HTML).
        matching = [
            (2 - media.count("*"), q)
            for media, q in parse_accept(header)
            if _matches(media, wanted)
        ]
        quality = max(matching)[1] if matching else 0.0
        if quality > best_q:
            best, best_q = offer, quality
    return best

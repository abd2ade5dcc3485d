"""IO-free path matcher: one dict for static paths, a segment trie for dynamic ones.

Matching a static path is a single dict lookup. A dynamic path walks one trie level per
segment: a literal child is a dict lookup and wins over converters; converter children at
a level are tried in weight order and share a node when their shape is equal, so the work
per level is bounded by the number of distinct converter kinds there, never by the number
of routes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from .converters import Converter, Segment

T = TypeVar("T")


class _Node(Generic[T]):
    __slots__ = ("dynamic", "leaf", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node[T]] = {}
        # (shape, converter, child), kept sorted by converter weight.
        self.dynamic: list[tuple[str, Converter, _Node[T]]] = []
        self.leaf: T | None = None


class PathTable(Generic[T]):
    """Maps path patterns to values of type ``T`` (kettle stores a per-path method table)."""

    __slots__ = ("_root", "static")

    def __init__(self) -> None:
        self.static: dict[str, T] = {}
        self._root: _Node[T] = _Node()

    def setdefault(
        self,
        segments: Sequence[Segment],
        make_converter: Callable[[Segment], Converter],
        factory: Callable[[], T],
    ) -> T:
        """The value stored for this pattern shape, created with ``factory`` if new."""
        if all(seg.text is not None for seg in segments):
            path = "/" + "/".join(seg.text or "" for seg in segments)
            value = self.static.get(path)
            if value is None:
                value = self.static[path] = factory()
            return value
        node = self._root
        for seg in segments:
            if seg.text is not None:
                node = node.static.setdefault(seg.text, _Node())
                continue
            shape = seg.shape
            for existing_shape, _, child in node.dynamic:
                if existing_shape == shape:
                    node = child
                    break
            else:
                child = _Node()
                node.dynamic.append((shape, make_converter(seg), child))
                node.dynamic.sort(key=lambda item: item[1].weight)
                node = child
        if node.leaf is None:
            node.leaf = factory()
        return node.leaf

    def match(self, path: str) -> tuple[T, list[Any]] | None:
        """``(value, converted parameter values in pattern order)`` or ``None``."""
        value = self.static.get(path)
        if value is not None:
            return value, []
        return self.match_dynamic(path)

    def match_dynamic(self, path: str) -> tuple[T, list[Any]] | None:
        """Like :meth:`match` for a path already known not to be static."""
        segments = path[1:].split("/")
        values: list[Any] = []
        # PERF: first follow the preferred branch at every level without recursion; only
        # when that dead-ends does the full depth-first search (with backtracking) run.
        # Both visit candidates in the same order, so they agree on the winner.
        node = self._root
        for segment in segments:
            child = node.static.get(segment)
            if child is None:
                for _, converter, candidate in node.dynamic:
                    if converter.consumes_rest:
                        break
                    try:
                        values.append(converter.to_python(segment))
                    except ValueError:
                        continue
                    child = candidate
                    break
                if child is None:
                    break
            node = child
        else:
            if node.leaf is not None:
                return node.leaf, values
        values = []
        leaf = _walk(self._root, segments, 0, values)
        if leaf is None:
            return None
        return leaf, values


def _walk(node: _Node[T], segments: list[str], i: int, values: list[Any]) -> T | None:
    if i == len(segments):
        return node.leaf
    segment = segments[i]
    child = node.static.get(segment)
    if child is not None:
        found = _walk(child, segments, i + 1, values)
        if found is not None:
            return found
    for _, converter, child in node.dynamic:
        if converter.consumes_rest:
            found = _walk_rest(converter, child, segments, i, values)
            if found is not None:
                return found
            continue
        try:
            value = converter.to_python(segment)
        except ValueError:
            continue
        values.append(value)
        found = _walk(child, segments, i + 1, values)
        if found is not None:
            return found
        values.pop()
    return None


def _walk_rest(
    converter: Converter, child: _Node[T], segments: list[str], i: int, values: list[Any]
) -> T | None:
    end = len(segments)
    if child.static or child.dynamic:
        # The pattern goes on after the ``path`` slot (``/<path:p>/edit``): prefer the
        # longest span that leaves a match for the rest. PERF: when only literal segments
        # follow, a span is tried only where the next segment is one of them.
        for stop in range(end - 1, i, -1):
            if not child.dynamic and segments[stop] not in child.static:
                continue
            try:
                value = converter.to_python("/".join(segments[i:stop]))
            except ValueError:
                continue
            values.append(value)
            found = _walk(child, segments, stop, values)
            if found is not None:
                return found
            values.pop()
    if child.leaf is None:
        return None
    try:
        value = converter.to_python("/".join(segments[i:]))
    except ValueError:
        return None
    values.append(value)
    return child.leaf

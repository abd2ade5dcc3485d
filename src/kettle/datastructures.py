"""Headers, multi-dicts, URLs and the small value types requests and responses share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, overload
from urllib.parse import SplitResult, urlsplit

__all__ = ["URL", "Address", "Headers", "MultiDict", "MutableHeaders", "State"]

_T = TypeVar("_T")
_V = TypeVar("_V")

RawHeaders = list[tuple[bytes, bytes]]


class Address(NamedTuple):
    """The peer's ``(host, port)``."""

    host: str
    port: int


class State:
    """An attribute bag: ``app.state`` and ``req.state`` (Flask's ``g``)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__

    def __getattr__(self, name: str) -> Any:
        # Only called for missing attributes; typed ``Any`` so ``req.state.user`` type-checks.
        raise AttributeError(f"state has no attribute {name!r} (set it first: state.{name} = ...)")

    if TYPE_CHECKING:  # any attribute may be set; at run time object.__setattr__ does it

        def __setattr__(self, name: str, value: Any) -> None: ...

    def get(self, name: str, default: Any = None) -> Any:
        """The attribute ``name``, or ``default`` when it was never set."""
        return self.__dict__.get(name, default)

    def __repr__(self) -> str:
        return f"State({self.__dict__!r})"


class MultiDict(Mapping[str, _V]):
    """An immutable mapping where a key may carry several values.

    ``md[key]`` and ``md.get(key)`` give the *first* value, ``md.getlist(key)`` all of
    them in order; iteration yields each key once.
    """

    __slots__ = ("_dict", "_list")

    def __init__(self, items: Iterable[tuple[str, _V]] | Mapping[str, _V] = ()) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        self._list: list[tuple[str, _V]] = pairs
        first: dict[str, _V] = {}
        for key, value in pairs:
            first.setdefault(key, value)
        self._dict = first

    def __getitem__(self, key: str) -> _V:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def getlist(self, key: str) -> list[_V]:
        """Every value of ``key``, in the order they came."""
        return [v for k, v in self._list if k == key]

    def multi_items(self) -> list[tuple[str, _V]]:
        """Every ``(key, value)`` pair, repeats included, in order."""
        return list(self._list)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return sorted(self._list) == sorted(other._list)
        if isinstance(other, Mapping):
            return self._dict == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued, read-only view over raw header pairs.

    Built over the server's list of ``(name, value)`` byte pairs without copying; names
    are looked up lower-cased. Values are decoded as latin-1, as HTTP/1.1 defines them.
    """

    __slots__ = ("_index", "_raw")

    def __init__(self, raw: RawHeaders | None = None) -> None:
        self._raw: RawHeaders = raw if raw is not None else []
        self._index: dict[str, str] | None = None

    @classmethod
    def from_mapping(cls, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> Headers:
        """Headers from ``str`` pairs (names lower-cased, values latin-1 encoded)."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        return cls([(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs])

    def _lookup(self) -> dict[str, str]:
        # PERF: one pass builds a first-value index; most requests read few headers, and
        # a dict beats rescanning the list for every ``get``.
        index = self._index
        if index is None:
            index = {}
            for name, value in self._raw:
                key = name.decode("latin-1").lower()
                if key not in index:
                    index[key] = value.decode("latin-1")
            self._index = index
        return index

    def __getitem__(self, key: str) -> str:
        return self._lookup()[key.lower()]

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    @overload
    def get(self, key: str, default: _T) -> str | _T: ...

    def get(self, key: str, default: Any = None) -> Any:
        """The first value of ``key`` (any case), or ``default``."""
        return self._lookup().get(key.lower(), default)

    def getlist(self, key: str) -> list[str]:
        """Every value of ``key`` in the order received."""
        name = key.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self._raw if k.lower() == name]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lookup()

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def items_all(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair, repeats included."""
        return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in self._raw]

    @property
    def raw(self) -> RawHeaders:
        """The underlying byte pairs."""
        return self._raw

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted(self.items_all()) == sorted(other.items_all())
        if isinstance(other, Mapping):
            return dict(self.items()) == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.items_all()!r})"


def _check_header(name: str, value: str) -> tuple[bytes, bytes]:
    # Response splitting: a CR, LF or NUL in a name or value would start a new header or
    # end the head early (SECURITY.md case 41).
    for ch in "\r\n\x00":
        if ch in name or ch in value:
            raise ValueError(f"invalid character {ch!r} in response header {name!r}")
    if not name or ":" in name or " " in name:
        raise ValueError(f"invalid response header name {name!r}")
    return name.lower().encode("latin-1"), value.encode("latin-1")


class MutableHeaders(Headers):
    """Response headers: case-insensitive, validated on write, backed by the raw pairs.

    ``h[name] = value`` replaces every value of ``name``; :meth:`add` appends one more
    (``set-cookie``). A CR, LF or NUL in a name or value raises ``ValueError``.
    """

    __slots__ = ()

    def _lookup(self) -> dict[str, str]:
        # Responses hold few headers and change them; no index to keep in sync.
        index: dict[str, str] = {}
        for name, value in self._raw:
            key = name.decode("latin-1")
            if key not in index:
                index[key] = value.decode("latin-1")
        return index

    def __setitem__(self, key: str, value: str) -> None:
        name, raw_value = _check_header(key, value)
        raw = self._raw
        found = False
        i = 0
        while i < len(raw):
            if raw[i][0] == name:
                if found:
                    del raw[i]
                    continue
                raw[i] = (name, raw_value)
                found = True
            i += 1
        if not found:
            raw.append((name, raw_value))

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1")
        before = len(self._raw)
        self._raw[:] = [pair for pair in self._raw if pair[0] != name]
        if len(self._raw) == before:
            raise KeyError(key)

    def add(self, key: str, value: str) -> None:
        """Append a value, keeping the ones already there."""
        self._raw.append(_check_header(key, value))

    def setdefault(self, key: str, value: str) -> str:
        """Set ``key`` unless present; return its (first) value."""
        current = self.get(key)
        if current is None:
            self[key] = value
            return value
        return current

    def update(self, other: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        """Set each of ``other``'s headers, replacing existing values."""
        pairs = other.items() if isinstance(other, Mapping) else other
        for key, value in pairs:
            self[key] = value

    def pop(self, key: str, default: str | None = None) -> str | None:
        """Remove ``key``; return its first value or ``default``."""
        value = self.get(key)
        if value is None:
            return default
        del self[key]
        return value


class URL(str):
    """The request URL: a ``str`` with its parts as attributes.

    >>> u = URL("https://example.com:8443/a/b?x=1")
    >>> (u.scheme, u.hostname, u.port, u.path, u.query)
    ('https', 'example.com', 8443, '/a/b', 'x=1')
    """

    __slots__ = ("_parts",)

    _parts: SplitResult

    def __new__(cls, url: str) -> URL:
        self = super().__new__(cls, url)
        self._parts = urlsplit(url)
        return self

    @property
    def scheme(self) -> str:
        """``http`` or ``https``."""
        return self._parts.scheme

    @property
    def netloc(self) -> str:
        """``host[:port]`` as it appears in the URL."""
        return self._parts.netloc

    @property
    def hostname(self) -> str | None:
        """The host name, lower-cased."""
        return self._parts.hostname

    @property
    def port(self) -> int | None:
        """The explicit port, if any."""
        return self._parts.port

    @property
    def path(self) -> str:
        """The path, percent-encoded."""
        return self._parts.path

    @property
    def query(self) -> str:
        """The query string without the ``?``."""
        return self._parts.query

    def with_parts(self, **parts: str) -> URL:
        """A new URL with some parts swapped: ``scheme``, ``netloc``, ``path``, ``query``,
        ``fragment``.
        """
        return URL(self._parts._replace(**parts).geturl())

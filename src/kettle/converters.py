"""Path converters and the Flask-style path syntax: ``/users/<int:id>/files/<path:rest>``.

A pattern is parsed once, at registration, into :class:`Segment` objects: a literal text or
a converter slot. The matcher (``_trie.py``) and the URL builder (``urls.py``) both work from
those segments, so the syntax is understood in one place only.
"""

from __future__ import annotations

import ast
import decimal
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from .exceptions import SetupError

__all__ = [
    "AnyConverter",
    "Converter",
    "FloatConverter",
    "IntConverter",
    "PathConverter",
    "Segment",
    "StringConverter",
    "UUIDConverter",
    "default_converters",
    "parse_pattern",
]


class Converter:
    """Turns one path segment into a Python value and back.

    Subclass it, set :attr:`weight` (lower is tried first when several converters sit at
    the same depth; a literal segment always beats any converter) and override
    :meth:`to_python` (raise ``ValueError`` when the segment does not match) and
    :meth:`to_url`. Register it with ``app.add_converter("name", MyConverter)``; arguments in
    the pattern, ``<name(3, upper=True):x>``, go to ``__init__``.
    """

    weight: ClassVar[int] = 100
    #: A converter that takes the rest of the path, slashes included (``path``).
    consumes_rest: ClassVar[bool] = False

    def to_python(self, value: str) -> Any:
        """The Python value of a segment; raise ``ValueError`` if it does not match."""
        return value

    def to_url(self, value: Any) -> str:
        """The segment text for ``value`` (before percent-encoding)."""
        return str(value)


class StringConverter(Converter):
    """Any non-empty text without a slash (the default): ``<name>`` or ``<string:name>``."""

    weight = 200

    def __init__(self, minlength: int = 1, maxlength: int | None = None, length: int | None = None):
        self.minlength = length if length is not None else minlength
        self.maxlength = length if length is not None else maxlength

    def to_python(self, value: str) -> str:
        n = len(value)
        if n < self.minlength or (self.maxlength is not None and n > self.maxlength):
            raise ValueError(value)
        # Dot segments and NUL never reach a handler as a parameter.
        if value in (".", "..") or "\x00" in value:
            raise ValueError(value)
        return value


class IntConverter(Converter):
    """ASCII digits, optionally signed and bounded: ``<int:id>``, ``<int(min=1):page>``."""

    weight = 50

    def __init__(
        self,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ):
        self.fixed_digits = fixed_digits
        self.min = min
        self.max = max
        self.signed = signed
        self._plain = not fixed_digits and min is None and max is None and not signed

    def to_python(self, value: str) -> int:
        if self._plain:
            # PERF: the usual <int:id> needs one check and one int(), nothing else.
            if value.isdigit() and value.isascii():
                return int(value)
            raise ValueError(value)
        digits = value[1:] if self.signed and value[:1] == "-" else value
        # isdigit() alone accepts "²" and other non-ASCII digits; int() then fails or lies.
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError(value)
        if self.fixed_digits and len(value) != self.fixed_digits:
            raise ValueError(value)
        number = int(value)
        if (self.min is not None and number < self.min) or (
            self.max is not None and number > self.max
        ):
            raise ValueError(value)
        return number

    def to_url(self, value: Any) -> str:
        text = str(int(value))
        return text.zfill(self.fixed_digits) if self.fixed_digits else text


_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")


class FloatConverter(Converter):
    """A decimal number, ``3`` or ``3.14``: ``<float:x>``; ``signed=True`` allows ``-``."""

    weight = 60

    def __init__(self, min: float | None = None, max: float | None = None, signed: bool = False):
        self.min = min
        self.max = max
        self.signed = signed

    def to_python(self, value: str) -> float:
        if not _FLOAT.match(value) or (value[0] == "-" and not self.signed):
            raise ValueError(value)
        number = float(value)
        if not math.isfinite(number) or (
            (self.min is not None and number < self.min)
            or (self.max is not None and number > self.max)
        ):
            raise ValueError(value)
        return number

    def to_url(self, value: Any) -> str:
        """``value`` written without an exponent, which :meth:`to_python` reads back."""
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        # str() writes 1e+16 and 1e-05, which to_python refuses; the shortest repr written
        # out without an exponent reads back as the same float.
        return format(decimal.Decimal(repr(number)), "f")


class UUIDConverter(Converter):
    """A UUID in its canonical 36-character form: ``<uuid:u>``."""

    weight = 40

    def to_python(self, value: str) -> uuid.UUID:
        if len(value) != 36:
            raise ValueError(value)
        return uuid.UUID(value)


class AnyConverter(Converter):
    """One of the given words: ``<any(about, help):page>``."""

    weight = 30

    def __init__(self, *items: str):
        if not items:
            raise SetupError("any() converter needs at least one item")
        self.items = frozenset(items)

    def to_python(self, value: str) -> str:
        if value not in self.items:
            raise ValueError(value)
        return value


class PathConverter(Converter):
    """The rest of the path, slashes included: ``<path:rest>``.

    ``.`` and ``..`` segments never match, so a ``path`` parameter cannot climb out of the
    directory a handler joins it to.
    """

    weight = 300
    consumes_rest = True

    def to_python(self, value: str) -> str:
        if not value or "\x00" in value:
            raise ValueError(value)
        for part in value.split("/"):
            if part in (".", ".."):
                raise ValueError(value)
        return value


def default_converters() -> dict[str, type[Converter]]:
    """The built-in converters by name (a fresh dict an app may extend)."""
    return {
        "default": StringConverter,
        "string": StringConverter,
        "int": IntConverter,
        "float": FloatConverter,
        "uuid": UUIDConverter,
        "any": AnyConverter,
        "path": PathConverter,
    }


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment of a pattern: literal ``text``, or a converter slot named ``name``."""

    text: str | None = None
    name: str | None = None
    converter: str = "default"
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def is_static(self) -> bool:
        """Whether this segment is literal text."""
        return self.text is not None

    @property
    def shape(self) -> str:
        """What this segment matches, ignoring the parameter's name (conflict detection)."""
        if self.text is not None:
            return self.text
        return f"<{self.converter}{self.args}{self.kwargs}>"

    def make_converter(self, registry: dict[str, type[Converter]]) -> Converter:
        """Instantiate this slot's converter from ``registry``."""
        cls = registry.get(self.converter)
        if cls is None:
            raise SetupError(
                f"unknown converter {self.converter!r} in <{self.converter}:{self.name}>"
            )
        try:
            return cls(*self.args, **dict(self.kwargs))
        except TypeError as exc:
            raise SetupError(f"bad arguments for converter {self.converter!r}: {exc}") from None


_SLOT = re.compile(
    r"<(?:(?P<conv>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)>"
)


def _parse_args(text: str, where: str) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
    try:
        call = ast.parse(f"f({text})", mode="eval").body
        assert isinstance(call, ast.Call)
        args = tuple(
            ast.literal_eval(a) if not isinstance(a, ast.Name) else a.id for a in call.args
        )
        kwargs = tuple((k.arg or "", ast.literal_eval(k.value)) for k in call.keywords)
    except (SyntaxError, ValueError, AssertionError):
        raise SetupError(f"bad converter arguments in {where!r}") from None
    return args, kwargs


def parse_pattern(pattern: str) -> tuple[Segment, ...]:
    """Split ``pattern`` into segments; a malformed pattern is a :class:`SetupError`.

    The pattern must start with ``/``; each segment is literal text or exactly one
    ``<converter:name>`` slot, and a name may appear once.
    """
    if not pattern.startswith("/"):
        raise SetupError(f"route pattern {pattern!r} must start with '/'")
    segments: list[Segment] = []
    seen: set[str] = set()
    for part in pattern[1:].split("/"):
        if "<" not in part and ">" not in part:
            if part in (".", ".."):
                raise SetupError(f"route pattern {pattern!r} has a dot segment")
            segments.append(Segment(text=part))
            continue
        slot = _SLOT.fullmatch(part)
        if slot is None:
            raise SetupError(
                f"bad segment {part!r} in route pattern {pattern!r}: a segment is literal text "
                "or exactly one <converter:name>"
            )
        name = slot["name"]
        if name in seen:
            raise SetupError(f"parameter {name!r} appears twice in route pattern {pattern!r}")
        seen.add(name)
        args, kwargs = _parse_args(slot["args"], part) if slot["args"] else ((), ())
        segments.append(
            Segment(name=name, converter=slot["conv"] or "default", args=args, kwargs=kwargs)
        )
    return tuple(segments)

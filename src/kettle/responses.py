"""The Response family and the coercion of handler return values into responses.

A response is plain data: a status, raw header pairs and either ``body`` bytes or a
``stream`` of chunks. Server adapters turn it into protocol messages; nothing here knows
about ASGI or RSGI.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from .cookies import SameSite, format_set_cookie
from .datastructures import MutableHeaders
from .json import encode_json

_encode_json = encode_json

__all__ = [
    "HTMLResponse",
    "JSONResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "TextResponse",
    "coerce_response",
    "redirect",
]

RawHeaders = list[tuple[bytes, bytes]]

# PERF: Content-Length header pairs for small bodies, built once instead of per response;
# nearly every API response is smaller than this.
_LENGTH_PAIRS = tuple((b"content-length", str(n).encode()) for n in range(4096))


_NO_LENGTH = frozenset((*range(100, 200), 204, 304))


@functools.lru_cache(maxsize=64)
def _content_type(media_type: str, charset: str) -> tuple[bytes, bytes]:
    if media_type.startswith("text/") and "charset=" not in media_type:
        media_type = f"{media_type}; charset={charset}"
    return (b"content-type", media_type.encode("latin-1"))


def _encode_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> RawHeaders:
    scratch = MutableHeaders([])
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        scratch.add(name, value)
    return scratch.raw


class Response:
    """An HTTP response with a bytes body.

    ``content`` may be ``bytes`` or ``str`` (encoded as UTF-8). ``headers`` adds to the
    ``content-type`` and ``content-length`` kettle sets; change them later through the
    :attr:`headers` mapping.
    """

    __slots__ = ("_headers", "_secure_cookies", "body", "raw_headers", "status_code", "stream")

    media_type: ClassVar[str | None] = None
    charset: ClassVar[str] = "utf-8"
    #: Whether the body's length is known up front (streamed bodies leave it out).
    sized: ClassVar[bool] = True
    _content_type_pair: ClassVar[tuple[bytes, bytes] | None] = None

    #: What ``__init__`` reads of the class: its content-type pair, charset, whether
    #: ``render`` is this class's own (a ``str`` body is then encoded inline) and ``sized``.
    #: (Set for Response itself below the class, for each subclass as it is created.)
    _recipe: ClassVar[tuple[tuple[bytes, bytes] | None, str, bool, bool]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # PERF: each class's own content-type header pair is encoded once, here, and the
        # class attributes a response is built from are gathered into one: on Python 3.11
        # reading a class attribute through an instance is not specialized (~280
        # instructions each), so one read instead of four.
        media_type = cls.media_type
        pair = _content_type(media_type, cls.charset) if media_type else None
        cls._content_type_pair = pair
        cls._recipe = (pair, cls.charset, cls.render is Response.render, cls.sized)

    def __init__(
        self,
        content: Any = None,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status
        self.stream: AsyncIterator[bytes] | None = None
        self._headers: MutableHeaders | None = None
        self._secure_cookies: list[bytes] | None = None
        pair, charset, renders_text, sized = self._recipe
        bodiless = status in _NO_LENGTH
        if bodiless:
            body = b""
        elif content.__class__ is str and renders_text:
            # PERF: the commonest body, encoded without the call to render.
            body = content.encode(charset)
        else:
            body = self.render(content)
        self.body = body
        # PERF: the content-type pair is built once per (media type, charset), not per
        # response, and small Content-Length pairs come from a table.
        if media_type is None:
            raw: RawHeaders = [] if pair is None else [pair]
        else:
            raw = [_content_type(media_type, charset)]
        if sized and not bodiless:
            size = len(body)
            raw.append(
                _LENGTH_PAIRS[size] if size < 4096 else (b"content-length", str(size).encode())
            )
        if headers:
            raw.extend(_encode_headers(headers))
        self.raw_headers = raw

    def render(self, content: Any) -> bytes:
        """Turn ``content`` into body bytes (subclasses encode JSON, text, ...)."""
        kind = type(content)
        if kind is str:
            return content.encode(self.charset)  # type: ignore[no-any-return]
        if kind is bytes:
            return content  # type: ignore[no-any-return]
        if content is None:
            return b""
        if isinstance(content, str):
            return content.encode(self.charset)
        if isinstance(content, bytes):
            return content
        if isinstance(content, bytearray | memoryview):
            return bytes(content)
        raise TypeError(f"{type(self).__name__} takes bytes or str, not {type(content).__name__}")

    @property
    def headers(self) -> MutableHeaders:
        """The response headers, case-insensitive and validated on write."""
        headers = self._headers
        if headers is None:
            headers = self._headers = MutableHeaders(self.raw_headers)
        return headers

    @property
    def media_type_header(self) -> str | None:
        """The ``content-type`` header as sent."""
        return self.headers.get("content-type")

    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        max_age: int | None = None,
        expires: Any = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: SameSite | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header with safe defaults.

        HttpOnly and SameSite=Lax unless turned off; ``secure=None`` (the default) marks
        the cookie Secure when the request came over https. A ``;``, ``,``, CR or LF in any
        field raises ``ValueError``.
        """
        line = format_set_cookie(
            key,
            value,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=bool(secure) or (secure is None and samesite in ("none", "None")),
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )
        self.raw_headers.append((b"set-cookie", line.encode("latin-1")))
        if secure is None and "; Secure" not in line:
            if self._secure_cookies is None:
                self._secure_cookies = []
            # The line itself, not its index: headers may be added or removed before sending.
            self._secure_cookies.append(self.raw_headers[-1][1])

    def delete_cookie(
        self,
        key: str,
        *,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool | None = None,
    ) -> None:
        """Tell the client to drop cookie ``key`` (same path and domain it was set with)."""
        self.set_cookie(key, "", max_age=0, expires=0, path=path, domain=domain, secure=secure)

    def prepare(self, secure_transport: bool) -> None:
        """Last adjustments before sending: cookies left ``secure=None`` get Secure on https."""
        pending = self._secure_cookies
        if pending is not None and secure_transport:
            raw = self.raw_headers
            for index, (name, value) in enumerate(raw):
                if name == b"set-cookie" and value in pending:
                    raw[index] = (name, value + b"; Secure")
        self._secure_cookies = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code}>"


Response._recipe = (None, Response.charset, True, Response.sized)


class HTMLResponse(Response):
    """``text/html; charset=utf-8``."""

    __slots__ = ()
    media_type = "text/html"


class TextResponse(Response):
    """``text/plain; charset=utf-8``."""

    __slots__ = ()
    media_type = "text/plain"


class JSONResponse(Response):
    """JSON encoded with msgspec: dicts, lists, dataclasses, msgspec Structs, datetimes,
    UUIDs, Decimals, enums, sets and pydantic models.
    """

    __slots__ = ()
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode_json(content)


_new_object = object.__new__
_JSON_PAIR = JSONResponse._content_type_pair


def _json_answer(content: dict[Any, Any] | list[Any]) -> JSONResponse:
    """``JSONResponse(content)``, for the dict or list a handler returned.

    PERF: calling a class with a Python ``__init__`` costs ~1.7 k instructions more on
    Python 3.11 than filling in a new object's slots here, and behind middleware most API
    answers come this way. It sets every slot ``Response.__init__`` sets, to the same
    values (tests/test_responses.py compares them slot by slot).
    """
    response: JSONResponse = _new_object(JSONResponse)
    response.status_code = 200
    response.stream = None
    response._headers = None
    response._secure_cookies = None
    body = response.body = _encode_json(content)
    size = len(body)
    response.raw_headers = [
        _JSON_PAIR,  # type: ignore[list-item]
        _LENGTH_PAIRS[size] if size < 4096 else (b"content-length", str(size).encode()),
    ]
    return response


class RedirectResponse(Response):
    """A redirect to ``url`` (302 by default; use 303 after a POST, 307/308 to keep the
    method). The HTML body escapes the URL.
    """

    __slots__ = ()
    media_type = "text/html"

    def __init__(
        self,
        url: str,
        status: int = 302,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        if not 300 <= status < 400:
            raise ValueError(f"a redirect needs a 3xx status, not {status}")
        location = quote(str(url), safe=":/%#?=@[]!$&'()*+,;~")
        escaped = html.escape(location)
        super().__init__(f'Redirecting to <a href="{escaped}">{escaped}</a>.', status, headers)
        self.raw_headers.append((b"location", location.encode("latin-1")))


class StreamingResponse(Response):
    """A body sent in chunks as they are produced.

    ``content`` is an iterable or async iterable of ``bytes`` or ``str``; a sync iterator is
    advanced in a worker thread, so a slow generator never blocks the loop.
    """

    __slots__ = ()
    media_type = "text/html"
    sized = False

    def __init__(
        self,
        content: Iterable[Any] | AsyncIterable[Any],
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        media_type: str | None = None,
    ) -> None:
        super().__init__(None, status, headers, media_type)
        self.stream = _as_async_bytes(content, self.charset)


async def _as_async_bytes(
    content: Iterable[Any] | AsyncIterable[Any], charset: str
) -> AsyncIterator[bytes]:
    if isinstance(content, AsyncIterable):
        async for chunk in content:
            yield _chunk_bytes(chunk, charset)
        return
    iterator: Iterator[Any] = iter(content)
    loop = asyncio.get_running_loop()
    done = object()
    try:
        while True:
            chunk = await loop.run_in_executor(None, next, iterator, done)
            if chunk is done:
                return
            yield _chunk_bytes(chunk, charset)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            # ValueError: still running in its thread (the client left during a next()).
            with contextlib.suppress(ValueError):
                close()


def _chunk_bytes(chunk: Any, charset: str) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode(charset)
    if isinstance(chunk, bytes | bytearray | memoryview):
        return bytes(chunk)
    # bytes(3) would quietly send three NUL bytes.
    raise TypeError(f"a streamed chunk must be bytes or str, not {type(chunk).__name__}")


def redirect(location: str, status: int = 302) -> RedirectResponse:
    """A :class:`RedirectResponse` to ``location`` (Flask's ``redirect``)."""
    return RedirectResponse(location, status)


def _from_tuple(value: tuple[Any, ...]) -> Response:
    if not 2 <= len(value) <= 3:
        raise TypeError("a handler may return (body, status) or (body, status, headers)")
    body, status, *rest = value
    if isinstance(status, Mapping | list):  # (body, headers)
        rest, status = [status], None
    response = coerce_response(body)
    if status is not None:
        if not isinstance(status, int):
            raise TypeError(
                f"the status in a returned tuple must be an int, not {type(status).__name__}"
            )
        if status in _NO_LENGTH:  # no body may follow: drop it and its length
            response.body = b""
            del response.raw_headers[:]
        response.status_code = status
    extra = rest[0] if rest else None
    if extra:
        if isinstance(extra, Mapping):
            response.headers.update(extra)
        else:  # a list of pairs may repeat a name (several set-cookie)
            for name, header_value in extra:
                response.headers.add(name, header_value)
    return response


def _is_json_object(value: Any) -> bool:
    import dataclasses

    import msgspec

    if isinstance(value, msgspec.Struct) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        return True
    return hasattr(value, "model_dump") and hasattr(type(value), "model_fields")  # pydantic v2


def coerce_response(value: Any) -> Response:
    """Turn a handler's return value into a :class:`Response` (rules in DESIGN.md).

    ``Response`` as is; ``str`` → HTML; ``bytes`` → octet-stream; dict, list, Struct,
    dataclass, pydantic model → JSON; ``None`` → 204; ``(body, status[, headers])``;
    generators and async generators → a streamed response.
    """
    if isinstance(value, Response):
        return value
    kind = type(value)
    if kind is dict or kind is list:
        return _json_answer(value)
    if kind is str:
        return HTMLResponse(value)
    if value is None:
        return Response(None, 204)
    if kind is tuple:
        return _from_tuple(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return Response(bytes(value), media_type="application/octet-stream")
    if inspect.isgenerator(value) or inspect.isasyncgen(value):
        return StreamingResponse(value)
    if isinstance(value, str):  # Markup, StrEnum and other str subclasses
        return HTMLResponse(value)
    if isinstance(value, dict | list) or _is_json_object(value):
        return JSONResponse(value)
    raise TypeError(
        f"the handler returned {kind.__name__}, which kettle cannot turn into a response: "
        "return a Response, str, bytes, dict, list, dataclass, msgspec Struct, None or a tuple"
    )

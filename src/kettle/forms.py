"""Form bodies: ``application/x-www-form-urlencoded`` and streamed ``multipart/form-data``.

:func:`parse_form` enforces :class:`FormLimits` while it reads, so a hostile body fails at
the first part over a limit. Multipart is parsed by python-multipart's callback parser,
which is synchronous: while a chunk is fed, callbacks handle fields in memory and only
queue file data (views of the chunk); after the chunk the queue is written through
:meth:`UploadFile.write`, which moves disk writes off the loop. On any error every upload
created so far is closed, removing its temporary file, before the error propagates.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from urllib.parse import unquote_to_bytes

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from ._urlencoded import TooManyFields, parse_urlencoded
from .datastructures import Headers, MultiDict
from .exceptions import BadRequest, PayloadTooLarge, UnsupportedMediaType
from .uploads import UploadFile

__all__ = ["FormData", "FormLimits", "parse_form"]

_KiB = 1024
_MiB = 1024 * 1024
# FormLimits fields that must be positive (the others may be 0).
_LEAST = {"max_part_headers": 1, "max_header_line": 1, "spool_threshold": 1}

FormValue = str | UploadFile


class FormData(MultiDict[FormValue]):
    """An immutable multi-dict of form fields (``str``) and files (:class:`UploadFile`).

    ``form[key]`` and ``form.get(key)`` give the first value, ``getlist`` all of them.
    Keys are kept flat: ``a[b]`` is the key ``"a[b]"``. Close it (``await form.close()``
    or ``async with form:``) to release the uploads' temporary files.
    """

    __slots__ = ()

    def files(self) -> list[tuple[str, UploadFile]]:
        """The ``(key, UploadFile)`` pairs only, in order."""
        return [(k, v) for k, v in self._list if isinstance(v, UploadFile)]

    async def close(self) -> None:
        """Close every upload, removing their temporary files."""
        for _, upload in self.files():
            await upload.close()

    async def __aenter__(self) -> FormData:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"


@dataclass(frozen=True, slots=True)
class FormLimits:
    """The limits :func:`parse_form` enforces (SECURITY.md, "Limits" and "Multipart").

    ``max_part_size`` caps each non-file part; files are bounded only by the caller's
    body limit and roll to disk past ``spool_threshold``. ``max_body_size`` caps an
    urlencoded body; a multipart body's total is left to the caller's body stream.
    """

    max_fields: int = 1000
    max_files: int = 1000
    max_part_size: int = 1 * _MiB
    max_part_headers: int = 32
    max_header_line: int = 8 * _KiB
    spool_threshold: int = 1 * _MiB
    max_body_size: int | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            value, least = getattr(self, field.name), _LEAST.get(field.name, 0)
            if value is not None and value < least:
                raise ValueError(f"FormLimits.{field.name} must be at least {least}, not {value}")


_DEFAULT_LIMITS = FormLimits()

# One `; name=value` parameter. Every repetition consumes input and the alternatives are
# disjoint, so a failed match costs one scan: parsing is linear even for 50 KB of crafted
# parameters (CVE-2024-24762). An unclosed quote fails the whole header rather than being
# retried as a bare value, which is what made other parsers quadratic.
_PARAM = re.compile(
    r"(?:[ \t]*;)+[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*"
    r'(?:"((?:[^"\\]|\\.)*)"|([^;"\s]*))[ \t]*'
)
_QUOTED_PAIR = re.compile(r'\\(["\\])')
# RFC 2046 section 5.1.1: 1 to 70 characters from this set, not ending in a space.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]*[0-9A-Za-z'()+_,\-./:=?]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# The charsets a non-file part may declare, by alias. A fixed table rather than
# codecs.lookup(): the codec registry caches every name it is asked for, misses included,
# and other codecs (unicode_escape…) can turn hostile bytes into lone surrogates.
_CHARSETS = {
    **dict.fromkeys(("utf-8", "utf8"), "utf-8"),
    **dict.fromkeys(("us-ascii", "ascii"), "ascii"),
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "latin-1", "latin1"), "latin-1"),
    **dict.fromkeys(("windows-1252", "cp1252"), "cp1252"),
}
# The part headers kettle reads; a part may carry each at most once.
_PART_HEADERS = frozenset({b"content-disposition", b"content-type"})


def _parse_params(value: str) -> tuple[str, dict[str, str]]:
    """``'form-data; name="a"'`` -> ``("form-data", {"name": "a"})``; ValueError if malformed."""
    main, _, _ = value.partition(";")
    params: dict[str, str] = {}
    pos = len(main)
    while pos < len(value):
        match = _PARAM.match(value, pos)
        if match is None:
            if value[pos:].strip(" \t;"):
                raise ValueError("malformed parameters")
            break
        key, quoted, bare = match.group(1, 2, 3)
        key = key.lower()
        if key in params:
            # Two parsers reading different values of one parameter is how request
            # smuggling starts; refuse the ambiguity.
            raise ValueError(f"duplicate parameter {key!r}")
        if quoted is None:
            params[key] = bare
        else:
            params[key] = _QUOTED_PAIR.sub(r"\1", quoted) if "\\" in quoted else quoted
        pos = match.end()
    return main.strip(" \t").lower(), params


def _decode_ext_value(value: str) -> str:
    """Decode an RFC 5987 ``charset'lang'percent-encoded`` value (``filename*``)."""
    charset, sep1, rest = value.partition("'")
    _, sep2, encoded = rest.partition("'")
    charset = charset.lower()
    if not (sep1 and sep2) or charset not in ("utf-8", "iso-8859-1"):
        raise BadRequest(detail="malformed filename* in a multipart part")
    if _BAD_ESCAPE.search(encoded):
        raise BadRequest(detail="invalid percent-escape in filename*")
    try:
        return unquote_to_bytes(encoded).decode(charset)
    except UnicodeDecodeError:
        raise BadRequest(detail=f"invalid {charset} in filename*") from None


class _MultipartReader:
    """Drives ``MultipartParser`` and turns its callbacks into form items and uploads."""

    def __init__(self, boundary: bytes, limits: FormLimits) -> None:
        self._limits = limits
        self.items: list[tuple[str, FormValue]] = []
        self.uploads: list[UploadFile] = []
        # File data seen while feeding one chunk, written after the chunk (see module doc).
        self.pending: list[tuple[UploadFile, memoryview]] = []
        self.fields = 0
        self.ended = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._hname = bytearray()
        self._hvalue = bytearray()
        self._name = ""
        self._charset = "utf-8"
        self._field = bytearray()
        self._upload: UploadFile | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_begin": self._on_header_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
            # The header count is checked in _on_header_begin (one more here so that our
            # clearer error fires first); the line length is left to the parser, which
            # checks it before copying anything, so a 1 MB header line costs nothing.
            max_header_count=limits.max_part_headers + 1,
            max_header_size=limits.max_header_line,
        )

    def feed(self, chunk: bytes) -> None:
        """Parse one chunk; file data is queued in ``pending``."""
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise BadRequest(detail=f"malformed multipart body: {exc}") from None

    async def flush(self) -> None:
        """Write the file data queued by the last :meth:`feed`."""
        pending, self.pending = self.pending, []
        for upload, data in pending:
            await upload.write(data)

    def discard(self) -> None:
        """Close every upload created so far (used on errors)."""
        for upload in self.uploads:
            # Synchronous on purpose: this runs while an error (or a cancellation)
            # propagates, where another await might never run and leak the descriptor.
            upload.discard()

    def _on_part_begin(self) -> None:
        self._headers = []
        self._upload = None

    def _on_header_begin(self) -> None:
        limit = self._limits.max_part_headers
        if len(self._headers) >= limit:
            raise BadRequest(detail=f"too many headers in a multipart part (limit {limit})")

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += memoryview(data)[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += memoryview(data)[start:end]

    def _on_header_end(self) -> None:
        self._headers.append((bytes(self._hname).lower(), bytes(self._hvalue).rstrip(b" \t")))
        self._hname.clear()
        self._hvalue.clear()

    def _on_headers_finished(self) -> None:
        found: dict[bytes, bytes] = {}
        for header, value in self._headers:
            if header in _PART_HEADERS:
                if header in found:
                    what = header.decode("ascii")
                    raise BadRequest(detail=f"duplicate {what} header in a multipart part")
                found[header] = value
        disposition = found.get(b"content-disposition")
        if disposition is None:
            raise BadRequest(detail="multipart part without a Content-Disposition header")
        try:
            kind, params = _parse_params(disposition.decode("utf-8"))
        except ValueError:
            raise BadRequest(detail="malformed Content-Disposition in a multipart part") from None
        name = params.get("name")
        if kind != "form-data" or name is None:
            raise BadRequest(detail="multipart part without Content-Disposition: form-data; name")
        if not name:
            raise BadRequest(detail="empty field name in a multipart part")
        self._name = name
        raw_type = found.get(b"content-type")
        content_type = raw_type.decode("latin-1") if raw_type is not None else ""
        limits = self._limits
        if "filename" in params or "filename*" in params:
            if len(self.uploads) >= limits.max_files:
                raise PayloadTooLarge(detail=f"too many files (limit {limits.max_files})")
            ext = params.get("filename*")
            filename = _decode_ext_value(ext) if ext is not None else params["filename"]
            self._upload = UploadFile(
                filename,
                content_type or "application/octet-stream",
                Headers(self._headers),
                spool_threshold=limits.spool_threshold,
            )
            self.uploads.append(self._upload)
        else:
            if self.fields >= limits.max_fields:
                raise PayloadTooLarge(detail=f"too many fields (limit {limits.max_fields})")
            self.fields += 1
            self._charset = _part_charset(content_type)
            self._field = bytearray()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._upload is not None:
            # PERF: a view, not a copy; the chunk lives until flush() has written it.
            self.pending.append((self._upload, memoryview(data)[start:end]))
        elif len(self._field) + (end - start) > self._limits.max_part_size:
            limit = self._limits.max_part_size
            raise PayloadTooLarge(detail=f"a form field is over {limit} bytes")
        else:
            self._field += memoryview(data)[start:end]

    def _on_part_end(self) -> None:
        if self._upload is not None:
            self.items.append((self._name, self._upload))
        else:
            try:
                value = self._field.decode(self._charset)
            except UnicodeDecodeError:
                raise BadRequest(detail=f"invalid {self._charset} in a form field") from None
            self.items.append((self._name, value))

    def _on_end(self) -> None:
        self.ended = True


def _part_charset(content_type: str) -> str:
    """The codec for a non-file part: its ``charset`` parameter, UTF-8 by default."""
    if not content_type:
        return "utf-8"
    try:
        charset = _parse_params(content_type)[1].get("charset", "utf-8")
    except ValueError:
        raise BadRequest(detail="malformed Content-Type in a multipart part") from None
    codec = _CHARSETS.get(charset.lower())
    if codec is None:
        raise BadRequest(detail=f"unsupported charset in a multipart part: {charset[:40]!r}")
    return codec


def _boundary(content_type: str) -> bytes:
    try:
        params = _parse_params(content_type)[1]
    except ValueError:
        raise BadRequest(detail="malformed Content-Type parameters") from None
    boundary = params.get("boundary")
    if boundary is None:
        raise BadRequest(detail="multipart/form-data without a boundary")
    if not boundary:
        raise BadRequest(detail="empty multipart boundary")
    if len(boundary) > 70:
        raise BadRequest(detail="multipart boundary over 70 characters")
    if _BOUNDARY.fullmatch(boundary) is None:
        raise BadRequest(detail="invalid character in multipart boundary")
    return boundary.encode("ascii")


async def _parse_multipart(
    content_type: str, stream: AsyncIterator[bytes], limits: FormLimits
) -> FormData:
    reader = _MultipartReader(_boundary(content_type), limits)
    try:
        async for chunk in stream:
            reader.feed(chunk)
            await reader.flush()
        if not reader.ended:
            raise BadRequest(detail="truncated multipart body")
        for upload in reader.uploads:
            await upload.seek(0)
    except BaseException:
        reader.discard()
        raise
    return FormData(reader.items)


async def _parse_urlencoded(stream: AsyncIterator[bytes], limits: FormLimits) -> FormData:
    limit = limits.max_body_size
    body = bytearray()
    async for chunk in stream:
        if limit is not None and len(body) + len(chunk) > limit:
            raise PayloadTooLarge(detail=f"form body over {limit} bytes")
        body += chunk
    try:
        pairs = parse_urlencoded(bytes(body), limits.max_fields, "form body")
    except TooManyFields:
        # A 413 rather than _urlencoded's 400: for a body, too many fields is too much body.
        raise PayloadTooLarge(detail=f"too many form fields (limit {limits.max_fields})") from None
    # The per-field limit holds for urlencoded bodies as for multipart ones (CVE-2024-47874).
    # In bytes, as for multipart parts; a character is at most 4 bytes of UTF-8, so only
    # long values are encoded to be measured.
    part_limit = limits.max_part_size
    if any(len(value) * 4 > part_limit and len(value.encode()) > part_limit for _, value in pairs):
        raise PayloadTooLarge(detail=f"a form field is over {part_limit} bytes")
    return FormData(pairs)


async def parse_form(
    content_type: str, stream: AsyncIterator[bytes], limits: FormLimits = _DEFAULT_LIMITS
) -> FormData:
    """Parse a form body from ``stream`` according to the request's ``content_type``.

    ``content_type`` is the whole ``Content-Type`` header value. An urlencoded body is
    read whole (up to ``limits.max_body_size``) and decoded strictly; a multipart body is
    parsed as it streams in, files spooled through :class:`UploadFile`. Raises
    :class:`BadRequest` (400) for malformed bodies, :class:`PayloadTooLarge` (413) past a
    limit and :class:`UnsupportedMediaType` (415) for any other content type. The caller
    owns the returned :class:`FormData` and must close it.
    """
    mime = content_type.partition(";")[0].strip(" \t").lower()
    if mime == "application/x-www-form-urlencoded":
        return await _parse_urlencoded(stream, limits)
    if mime == "multipart/form-data":
        return await _parse_multipart(content_type, stream, limits)
    shown = mime[:100] or "no content type"
    raise UnsupportedMediaType(
        detail=f"expected application/x-www-form-urlencoded or multipart/form-data, got {shown}"
    )

"""Sending files: :class:`FileResponse` and :func:`send_file`.

One implementation serves both ``send_file`` and the static folders of ``staticfiles.py``:
validators (a strong ``ETag`` and ``Last-Modified``), preconditions (``If-Match``,
``If-None-Match``, ``If-Modified-Since``, ``If-Unmodified-Since``) in the order RFC 9110
§13.2.2 gives, and byte ranges (single, several as ``multipart/byteranges``, ``If-Range``).
Bodies are read in 64 KiB chunks in a worker thread, never whole into memory. The header
logic (validators, dates, preconditions, ``Range`` parsing) lives in ``_conditional.py``,
every header parsed in time bounded by its length (hostile ``Range`` headers included).
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
import secrets
import stat
from collections.abc import AsyncGenerator, Awaitable, Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any, TypeAlias
from urllib.parse import quote

from . import _current
from ._conditional import MAX_RANGES, http_date, if_range_holds, precondition
from ._conditional import file_etag as file_etag  # public: re-exported
from ._conditional import parse_ranges as parse_ranges  # public: re-exported
from .exceptions import Forbidden, NotFound
from .responses import Response

if TYPE_CHECKING:
    from .requests import Request

__all__ = [
    "CHUNK_SIZE",
    "MAX_RANGES",
    "BinaryFile",
    "FileResponse",
    "content_disposition",
    "send_file",
]

#: What ``send_file`` reads: an ``open(..., "rb")`` file, a ``BytesIO``, any binary stream.
BinaryFile: TypeAlias = IO[bytes] | io.RawIOBase | io.BufferedIOBase

#: Bytes read per chunk (and per trip to a worker thread).
CHUNK_SIZE = 64 * 1024

_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
# A 304 carries validators and caching headers, not the representation's metadata
# (RFC 9110 §15.4.5); a 416 describes no representation at all.
_NOT_MODIFIED_DROP = frozenset(
    (b"content-type", b"content-length", b"content-disposition", b"content-encoding")
)
# RFC 9239 and the web's own types, so answers do not depend on the host's mime.types.
_WEB_TYPES = {
    "css": "text/css",
    "js": "text/javascript",
    "mjs": "text/javascript",
    "html": "text/html",
    "htm": "text/html",
    "json": "application/json",
    "map": "application/json",
    "svg": "image/svg+xml",
    "wasm": "application/wasm",
    "webp": "image/webp",
    "avif": "image/avif",
    "woff2": "font/woff2",
    "woff": "font/woff",
    "txt": "text/plain",
    "xml": "application/xml",
}


def guess_media_type(name: str) -> str:
    """The media type for a file called ``name`` (``application/octet-stream`` if unknown).

    A compressed file (``.gz``, ``.br``) is its archive type, never the type of what it
    holds: sent as is, ``x.css.gz`` must not claim to be CSS.
    """
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    known = _WEB_TYPES.get(ext)
    if known is not None:
        return known
    kind, encoding = mimetypes.guess_type(name, strict=False)
    if encoding is not None:
        return "application/gzip" if encoding == "gzip" else "application/octet-stream"
    return kind or "application/octet-stream"


def content_disposition(filename: str | None, *, attachment: bool = True) -> str:
    """A ``Content-Disposition`` value for ``filename`` per RFC 6266.

    Non-ASCII names get an ASCII fallback in ``filename`` and the exact name, percent-encoded
    as UTF-8, in ``filename*`` (RFC 5987); quotes, backslashes and control characters never
    reach the header. Without a name, just ``attachment`` or ``inline``.
    """
    kind = "attachment" if attachment else "inline"
    if not filename:
        return kind
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\' else "_" for ch in filename)
    value = f'{kind}; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


class _FileStream:
    """A file body: ``(prefix, range)`` parts read in chunks in a worker thread.

    A class rather than an async generator so that :meth:`aclose` closes the file even
    when iteration never started (a HEAD request, a response dropped before sending).
    """

    __slots__ = ("_body", "_file")

    def __init__(
        self, file: BinaryFile, parts: list[tuple[bytes, range | None]], tail: bytes, chunk: int
    ) -> None:
        self._file = file
        self._body = self._generate(parts, tail, chunk)

    def __aiter__(self) -> _FileStream:
        return self

    def __anext__(self) -> Awaitable[bytes]:
        return self._body.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the file."""
        try:
            await self._body.aclose()
        finally:
            if not self._file.closed:
                await asyncio.get_running_loop().run_in_executor(None, self._file.close)

    def _read(self, position: int, size: int) -> bytes:
        file = self._file
        if position >= 0:
            file.seek(position)
        return file.read(size) or b""  # a raw stream may answer None: nothing yet

    async def _generate(
        self, parts: list[tuple[bytes, range | None]], tail: bytes, chunk: int
    ) -> AsyncGenerator[bytes, None]:
        loop = asyncio.get_running_loop()
        # PERF: an in-memory file is read on the loop; a thread trip would cost more.
        inline = isinstance(self._file, io.BytesIO)
        for prefix, span in parts:
            if prefix:
                yield prefix
            position, left = (span.start, len(span)) if span is not None else (-1, -1)
            while left:
                size = chunk if left < 0 else min(chunk, left)
                if inline:
                    data = self._read(position, size)
                else:
                    data = await loop.run_in_executor(None, self._read, position, size)
                if not data:
                    break  # the file shrank: stop; the server sees the short body
                yield data
                if left > 0:
                    left -= len(data)
                    position += len(data)
        if tail:
            yield tail


def _open_nofollow(path: str, flags: int) -> int:
    return os.open(path, flags | _NO_FOLLOW)


class FileResponse(Response):
    """Send a file — a path or a binary file object — streamed in 64 KiB chunks.

    The content type is guessed from the name unless ``media_type`` is given. A path gets
    ``Content-Length``, ``Last-Modified`` and a strong ``ETag`` (:func:`file_etag`) from its
    metadata; a file object is sent from its current position (with a length when it is
    seekable, validators when it is a real file); ``etag`` may be a string of your own or
    ``False``. ``download_name`` names the file (inline), ``as_attachment=True`` makes
    browsers save it.

    With ``request``, the request's preconditions and ``Range`` are honoured: 304, 412,
    206 (``multipart/byteranges`` for several ranges, at most ``max_ranges``) or 416.
    ``follow_symlinks=False`` refuses to open a path that is itself a symlink;
    ``stat_result`` spares a second ``stat`` when the caller has one. A missing file or a
    directory is a 404, an unreadable one a 403. A path is opened only for answers that
    have a body (not for 304, 412 or 416), and closed — a file object too — when the body
    is done or the client leaves.
    """

    __slots__ = ()
    sized = False

    def __init__(
        self,
        path: str | os.PathLike[str] | BinaryFile,
        *,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        media_type: str | None = None,
        download_name: str | None = None,
        as_attachment: bool = False,
        request: Request | None = None,
        etag: bool | str = True,
        max_ranges: int = MAX_RANGES,
        chunk_size: int = CHUNK_SIZE,
        stat_result: os.stat_result | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        file: BinaryFile | None = None
        name: str | None = None
        info: os.stat_result | None
        size: int | None
        if isinstance(path, str | os.PathLike):
            name = os.fspath(path)
            info = stat_result or _stat_file(name)
            size = info.st_size
            base, seekable = 0, True
        else:
            file = path
            info, size, base, seekable = _describe(file)
        label = download_name or (os.path.basename(name) if name else _file_name(file))
        super().__init__(None, status, headers, media_type or guess_media_type(label or ""))
        if as_attachment or download_name is not None:
            disposition = content_disposition(label, attachment=as_attachment)
            self.raw_headers.append((b"content-disposition", disposition.encode("latin-1")))
        tag: str | None = None
        if etag is True:
            tag = file_etag(info) if info is not None else None
        elif etag:
            tag = etag if etag.startswith(('"', "W/")) else f'"{etag}"'
            if any(ch in tag for ch in "\r\n\x00"):  # response splitting (SECURITY 41)
                raise ValueError(f"invalid ETag {etag!r}")
        mtime = int(info.st_mtime) if info is not None else None
        self._deliver(
            file, name, tag, mtime, size, base, seekable, request, max_ranges, chunk_size,
            follow_symlinks,
        )  # fmt: skip

    def _deliver(
        self,
        file: BinaryFile | None,
        path: str | None,
        etag: str | None,
        mtime: int | None,
        size: int | None,
        base: int,
        seekable: bool,
        request: Request | None,
        max_ranges: int,
        chunk_size: int,
        follow_symlinks: bool,
    ) -> None:
        raw = self.raw_headers
        if etag is not None:
            raw.append((b"etag", etag.encode("latin-1")))
        if mtime is not None:
            raw.append((b"last-modified", http_date(mtime).encode()))
        ranges_ok = request is not None and size is not None and seekable
        if ranges_ok:
            raw.append((b"accept-ranges", b"bytes"))
        spans: list[range] | None = None
        if request is not None and self.status_code == 200:
            headers = request.headers
            decided = precondition(headers, request.method, etag, mtime)
            if decided:
                self._no_body(decided, file, keep=() if etag else (b"last-modified",))
                return
            value = headers.get("range") if ranges_ok and request.method == "GET" else None
            if_range = headers.get("if-range") if value is not None else None
            # An empty file has nothing to cut; a failed If-Range means "send it all".
            if value and size and (if_range is None or if_range_holds(if_range, etag, mtime)):
                spans = parse_ranges(value, size, max_ranges)
                if spans == []:
                    self._no_body(416, file, keep=())
                    raw.append((b"content-range", f"bytes */{size}".encode()))
                    raw.append((b"content-length", b"0"))
                    return
        if file is None:
            assert path is not None
            file = _open_file(path, follow_symlinks)
        if not spans:
            parts: list[tuple[bytes, range | None]] = [
                (b"", range(base, base + size) if size is not None else None)
            ]
            tail = b""
        else:
            assert size is not None
            parts, tail = self._partial(spans, size, base)
        if size is not None:
            length = sum(len(prefix) + len(span or ()) for prefix, span in parts) + len(tail)
            raw.append((b"content-length", str(length).encode()))
        self.stream = _FileStream(file, parts, tail, chunk_size)

    def _partial(
        self, spans: list[range], size: int, base: int
    ) -> tuple[list[tuple[bytes, range | None]], bytes]:
        self.status_code = 206
        raw = self.raw_headers
        if len(spans) == 1:
            span = spans[0]
            raw.append((b"content-range", f"bytes {span.start}-{span.stop - 1}/{size}".encode()))
            return [(b"", range(base + span.start, base + span.stop))], b""
        boundary = secrets.token_hex(16).encode()
        kind = next(value for name, value in raw if name == b"content-type")
        raw[:] = [(n, v) for n, v in raw if n != b"content-type"]
        raw.append((b"content-type", b"multipart/byteranges; boundary=" + boundary))
        parts: list[tuple[bytes, range | None]] = []
        for index, span in enumerate(spans):
            head = b"%s--%s\r\ncontent-type: %s\r\ncontent-range: bytes %d-%d/%d\r\n\r\n" % (
                b"\r\n" if index else b"", boundary, kind, span.start, span.stop - 1, size
            )  # fmt: skip
            parts.append((head, range(base + span.start, base + span.stop)))
        return parts, b"\r\n--%s--\r\n" % boundary

    def _no_body(self, status: int, file: BinaryFile | None, keep: Iterable[bytes]) -> None:
        self.status_code = status
        drop = _NOT_MODIFIED_DROP.union((b"accept-ranges", b"last-modified")).difference(keep)
        self.raw_headers[:] = [(n, v) for n, v in self.raw_headers if n not in drop]
        if file is not None:
            file.close()  # send_file takes ownership of a file object


def _stat_file(path: str) -> os.stat_result:
    try:
        info = os.stat(path)
    except PermissionError:
        raise Forbidden("file not readable") from None
    except (OSError, ValueError):  # missing, a name too long, a NUL in the path
        raise NotFound("file not found") from None
    if not stat.S_ISREG(info.st_mode):
        raise NotFound("file not found")
    return info


def _open_file(path: str, follow_symlinks: bool) -> BinaryFile:
    try:
        return open(path, "rb", buffering=0, opener=None if follow_symlinks else _open_nofollow)
    except PermissionError:
        raise Forbidden("file not readable") from None
    except OSError:  # gone since stat, or a symlink refused by O_NOFOLLOW
        raise NotFound("file not found") from None


def _file_name(file: BinaryFile | None) -> str | None:
    name = getattr(file, "name", None)
    return os.path.basename(name) if isinstance(name, str) else None


def _describe(file: BinaryFile) -> tuple[os.stat_result | None, int | None, int, bool]:
    """Validators, size, start position and seekability of a binary file object."""
    given: Any = file  # typed as binary; callers may still pass a text file by mistake
    if isinstance(given, io.TextIOBase) or "b" not in getattr(file, "mode", "b"):
        raise TypeError("send_file() needs a file opened in binary mode ('rb')")
    info: os.stat_result | None = None
    try:
        found = os.fstat(file.fileno())
        info = found if stat.S_ISREG(found.st_mode) else None
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass
    try:
        seekable = file.seekable()
    except (AttributeError, ValueError):
        seekable = False
    if not seekable:
        return info, None, 0, False
    base = file.tell()
    end = file.seek(0, os.SEEK_END)
    file.seek(base)
    return info, max(0, end - base), base, True


def send_file(
    path_or_file: str | os.PathLike[str] | BinaryFile,
    *,
    download_name: str | None = None,
    as_attachment: bool = False,
    mimetype: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    max_age: int | None = None,
) -> FileResponse:
    """Send a file from a path or a binary file object (Flask's ``send_file``).

    Inside a request and with ``conditional=True`` (the default), it answers the request's
    ``If-None-Match`` / ``If-Modified-Since`` with 304 and its ``Range`` with 206 or 416
    (see :class:`FileResponse`). ``download_name`` names the file for the browser;
    ``as_attachment=True`` makes it a download; the name may be any Unicode (RFC 6266 /
    5987). ``mimetype`` overrides the type guessed from the name. ``max_age`` (seconds)
    lets clients cache it without asking; by default they revalidate (``no-cache``).

    A file object is read from its current position, in a worker thread (a ``BytesIO``
    works too), and closed once sent.
    """
    request = _current.get_current_request() if conditional else None
    cache = "no-cache" if max_age is None else f"max-age={int(max_age)}"
    return FileResponse(
        path_or_file,
        headers=[("cache-control", cache), ("x-content-type-options", "nosniff")],
        media_type=mimetype,
        download_name=download_name,
        as_attachment=as_attachment,
        request=request,
        etag=etag,
    )

"""Sending files: :class:`FileResponse`, read in chunks off the loop, never whole."""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from email.utils import formatdate
from typing import BinaryIO
from urllib.parse import quote

from .exceptions import NotFound
from .responses import Response

__all__ = ["FileResponse", "content_disposition"]

CHUNK_SIZE = 64 * 1024


def content_disposition(filename: str, *, attachment: bool = True) -> str:
    """A ``Content-Disposition`` value for ``filename`` per RFC 6266.

    Non-ASCII names get an ASCII fallback in ``filename`` and the exact name, percent-encoded
    as UTF-8, in ``filename*`` (RFC 5987); quotes, backslashes and control characters never
    reach the header.
    """
    kind = "attachment" if attachment else "inline"
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\' else "_" for ch in filename)
    value = f'{kind}; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


class FileResponse(Response):
    """Send the file at ``path``, streamed in 64 KiB chunks read in a worker thread.

    The content type is guessed from the name unless ``media_type`` is given;
    ``Content-Length``, ``Last-Modified`` and a weak validator ``ETag`` come from the
    file's metadata. ``download_name`` with ``as_attachment=True`` makes browsers save it.
    A missing file or a directory is a 404.
    """

    __slots__ = ()
    sized = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        media_type: str | None = None,
        download_name: str | None = None,
        as_attachment: bool = False,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        path = os.fspath(path)
        try:
            info = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound("file not found") from None
        if not os.path.isfile(path):
            raise NotFound("file not found")
        name = download_name or os.path.basename(path)
        if media_type is None:
            media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        super().__init__(None, status, headers, media_type)
        self.raw_headers += [
            (b"content-length", str(info.st_size).encode()),
            (b"last-modified", formatdate(info.st_mtime, usegmt=True).encode()),
            (b"etag", f'W/"{info.st_mtime_ns:x}-{info.st_size:x}"'.encode()),
        ]
        if as_attachment or download_name is not None:
            disposition = content_disposition(name, attachment=as_attachment)
            self.raw_headers.append((b"content-disposition", disposition.encode("latin-1")))
        self.stream = _read_chunks(path, chunk_size)


async def _read_chunks(path: str, chunk_size: int) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    handle: BinaryIO = await loop.run_in_executor(None, open, path, "rb")
    try:
        while True:
            chunk = await loop.run_in_executor(None, handle.read, chunk_size)
            if not chunk:
                return
            yield chunk
    finally:
        await loop.run_in_executor(None, handle.close)

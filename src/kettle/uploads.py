"""Uploaded files: :class:`UploadFile` and :func:`secure_filename`.

An upload is spooled in memory up to a threshold and rolls over to an anonymous temporary
file past it. Every operation that may touch the disk runs in a worker thread, so a 50 MB
upload never stalls the event loop; operations on a still-in-memory file run inline,
because a thread hop costs more than a ``BytesIO`` call.
"""

from __future__ import annotations

import asyncio
import functools
import io
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from .datastructures import Headers

__all__ = ["UploadFile", "secure_filename"]

_DEFAULT_SPOOL = 1024 * 1024
_COPY_CHUNK = 64 * 1024

_T = TypeVar("_T")

Buffer = bytes | bytearray | memoryview


class UploadFile:
    """One file part of a ``multipart/form-data`` body.

    ``filename`` is what the client *says* the file was called: metadata only. Never use
    it as a path; pass it through :func:`secure_filename` (or, better, pick your own
    name) before saving. ``file`` is a :class:`tempfile.SpooledTemporaryFile` kept in
    memory up to ``spool_threshold`` bytes and on disk past it; prefer the async methods,
    which keep disk IO off the event loop.
    """

    __slots__ = (
        "_inflight",
        "content_type",
        "file",
        "filename",
        "headers",
        "size",
        "spool_threshold",
    )

    def __init__(
        self,
        filename: str | None,
        content_type: str = "application/octet-stream",
        headers: Headers | None = None,
        *,
        spool_threshold: int = _DEFAULT_SPOOL,
    ) -> None:
        if spool_threshold < 1:
            # SpooledTemporaryFile reads max_size=0 as "never roll over": the opposite
            # of what a zero threshold would mean here.
            raise ValueError(f"spool_threshold must be at least 1, not {spool_threshold}")
        self.filename = filename
        self.content_type = content_type
        self.headers = headers if headers is not None else Headers()
        self.spool_threshold = spool_threshold
        #: Bytes written through :meth:`write`.
        self.size = 0
        # The file outlives this call by design: close() or discard() releases it.
        self.file: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=spool_threshold, mode="w+b"
        )
        self._inflight: asyncio.Future[Any] | None = None

    @property
    def in_memory(self) -> bool:
        """Whether the content is still held in memory (it has not rolled to disk)."""
        # The spooled file swaps its BytesIO for a real file when it rolls over; the
        # private ``_rolled`` flag is not in the type stubs, ``_file`` is.
        return isinstance(self.file._file, io.BytesIO)

    async def _in_thread(self, call: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, call)
        self._inflight = future
        # Shielded: if the caller is cancelled, the thread still runs to its end, and the
        # future stays in _inflight so that discard() can close the file after it.
        result = await asyncio.shield(future)
        self._inflight = None
        return result

    async def write(self, data: Buffer) -> int:
        """Append ``data`` at the current position; disk writes run in a thread."""
        file = self.file
        if self.in_memory and file.tell() + len(data) <= self.spool_threshold:
            written = file.write(data)
        else:
            # A write that crosses the threshold makes the spooled file copy everything
            # to disk (the rollover) inside that call, so it goes to the thread too.
            written = await self._in_thread(functools.partial(file.write, data))
        self.size += written
        return written

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left when negative)."""
        if self.in_memory:
            return self.file.read(size)
        return await self._in_thread(functools.partial(self.file.read, size))

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position, as :meth:`io.IOBase.seek` does; returns the new position."""
        if self.in_memory:
            return self.file.seek(offset, whence)
        return await self._in_thread(functools.partial(self.file.seek, offset, whence))

    async def close(self) -> None:
        """Close the file; a rolled-over temporary file is removed. Safe to call twice."""
        if self.file.closed:
            return
        if self.in_memory:
            self.file.close()
        else:
            await self._in_thread(self.file.close)

    def discard(self) -> None:
        """Close the file without awaiting: for error and cancellation paths.

        If a thread operation was cut off by a cancellation, the thread may still be
        writing (or rolling over to a new temporary file); the file is then closed as soon
        as that operation ends, so no descriptor outlives it.
        """
        inflight = self._inflight
        if inflight is not None and not inflight.done():
            inflight.add_done_callback(self._close_after)
        else:
            self.file.close()

    def _close_after(self, future: asyncio.Future[Any]) -> None:
        self._inflight = None
        self.file.close()
        # Mark the outcome as seen (nobody awaits it any more), so that an error in the
        # cut-off operation is not reported as "never retrieved".
        future.cancelled() or future.exception()

    async def save(
        self,
        destination: str | os.PathLike[str] | BinaryIO,
        *,
        chunk_size: int = _COPY_CHUNK,
    ) -> str | None:
        """Copy the whole content to ``destination``, in a worker thread; return the path.

        ``destination`` is one of:

        - a directory: the file is saved there as ``secure_filename(self.filename)``; a
          client name with nothing safe left in it (``"../.."``, a lone NUL) is refused
          with ``ValueError``;
        - a file path (created or truncated): its last component must already be a safe
          name (``secure_filename(name) == name``) and no component may be ``..``,
          otherwise ``ValueError`` — so a name built from client input can never climb out
          of the folder or hide a NUL;
        - an open binary file (``None`` is returned).

        The copy starts at the beginning of the upload and leaves the position at its end;
        do not touch the upload until it returns.
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
        return await asyncio.to_thread(self._save_sync, destination, chunk_size)

    def _save_sync(
        self, destination: str | os.PathLike[str] | BinaryIO, chunk_size: int
    ) -> str | None:
        self.file.seek(0)
        if not isinstance(destination, str | os.PathLike):
            shutil.copyfileobj(self.file, destination, chunk_size)
            return None
        path = os.fspath(destination)
        if os.path.isdir(path):
            name = secure_filename(self.filename or "")
            if not name:
                raise ValueError(
                    f"unsafe upload name {self.filename!r}: nothing safe is left of it"
                )
            path = os.path.join(path, name)
        else:
            name = os.path.basename(path)
            # "uploads/" + client input must not climb out of uploads/ either.
            if (
                not name
                or secure_filename(name) != name
                or ".." in path.replace("\\", "/").split("/")
            ):
                raise ValueError(
                    f"unsafe file name {name!r}: pass a name made with secure_filename()"
                )
        with open(path, "wb") as target:
            shutil.copyfileobj(self.file, target, chunk_size)
        return path

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(filename={self.filename!r}, "
            f"content_type={self.content_type!r}, size={self.size})"
        )


# Everything but these is dropped once the name has been folded to ASCII.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
# Names Windows maps to devices whatever the extension ("nul.txt" is NUL too).
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{prefix}{n}" for prefix in ("COM", "LPT") for n in range(10)]
)
_MAX_NAME = 255


def secure_filename(name: str) -> str:
    """A version of ``name`` that is safe to use as a single file name on any OS.

    Folds the name to ASCII (``"naïve.txt"`` → ``"naive.txt"``), turns path separators
    and whitespace into ``_``, keeps only ``A-Z a-z 0-9 _ . -``, strips leading and
    trailing dots and underscores (no hidden files, no ``..``), prefixes Windows device
    names (``CON``, ``NUL``, ``COM1``…) with ``_`` and caps the result at 255 characters,
    keeping the extension. May return ``""``: the caller must then pick a name itself.

    >>> secure_filename("../../etc/passwd")
    'etc_passwd'
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    # Separators become spaces first so that they, like whitespace runs, turn into one _.
    ascii_name = ascii_name.replace("/", " ").replace("\\", " ")
    cleaned = _UNSAFE.sub("", "_".join(ascii_name.split())).strip("._")
    if cleaned.partition(".")[0].upper() in _WINDOWS_DEVICES:
        cleaned = "_" + cleaned
    if len(cleaned) > _MAX_NAME:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and len(ext) < _MAX_NAME // 2:
            cleaned = stem[: _MAX_NAME - len(ext) - 1].rstrip("._") + "." + ext
        else:
            cleaned = cleaned[:_MAX_NAME].rstrip("._")
    return cleaned

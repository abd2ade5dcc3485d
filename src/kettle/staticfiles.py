"""Static folders: :class:`StaticFiles`, :func:`add_static` and :func:`static_url`.

A static folder is one route, ``GET <prefix>/<path:filename>``, whose handler is a
:class:`StaticFiles`. Validators, preconditions and ranges are those of
:class:`~kettle.files.FileResponse`; this module adds what a folder needs: keeping every
request inside it, precompressed siblings, caching headers and cache-busting URLs.

Path safety, in order, before anything is opened: the name is checked as text (no empty,
``.`` or ``..`` segment, no backslash, NUL, drive or dotfile, bounded length), then its
real path — symlinks resolved, which reads metadata but opens nothing — must lie inside
the folder's own real path (``/static_secret`` is not inside ``/static``). Only then is the
file stat'ed and, if a body is sent, opened (refusing a symlink swapped in meanwhile).
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._conditional import MAX_RANGES, file_etag
from ._current import get_current_request
from .exceptions import NotFound, SetupError
from .files import FileResponse, content_disposition, guess_media_type
from .requests import Request  # at run time: the handler's call plan reads the annotation
from .routing import Router

if TYPE_CHECKING:
    from .app import Kettle

__all__ = [
    "ACTIVE_CONTENT_TYPES",
    "StaticFiles",
    "add_static",
    "install_default_static",
    "static_url",
]

#: Types a browser runs script in when opened directly: served as downloads from
#: folders of user uploads (``untrusted=True``), so an uploaded page cannot act as the site.
ACTIVE_CONTENT_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/xml",
        "text/xml",
        "application/xslt+xml",
        "text/xsl",
    }
)
_MAX_NAME = 1024  # a URL path longer than this names no file worth serving
_WINDOWS = os.name == "nt"
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
)
_SIBLINGS = ((".br", "br"), (".gz", "gzip"))  # in order of preference


@functools.lru_cache(maxsize=128)
def _accepted_encodings(header: str) -> frozenset[str]:
    # PERF: cached per header value; browsers send a handful of distinct ones.
    weights: dict[str, float] = {}
    for item in header.split(",", 32)[:32]:  # bounded: no client lists more codings
        name, _, params = item.partition(";")
        weight = 1.0
        params = params.strip().lower()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                weight = 0.0
        weights[name.strip().lower()] = weight
    star = weights.get("*", 0.0)
    found = set()
    for coding, aliases in (("br", ("br",)), ("gzip", ("gzip", "x-gzip"))):
        weight = next((weights[a] for a in aliases if a in weights), star)
        if weight > 0:  # q=0 refuses; NaN too
            found.add(coding)
    return frozenset(found)


class StaticFiles:
    """Serve the files inside ``directory``; a route handler for ``GET <prefix>/<path:filename>``.

    Register it with :func:`add_static` (``router.static(...)``). Options:

    - ``cache_control``: sent with every file (default ``no-cache``: browsers keep the file
      and revalidate it, a cheap 304 thanks to the ``ETag``); ``versioned_cache_control``
      replaces it when the URL carries ``?v=`` from :func:`static_url`, whose value changes
      with the content, so the file may be cached for a year.
    - ``follow_symlinks``: symlinks inside the folder may lead out of it (default: 404).
    - ``precompressed``: send ``x.css.br`` / ``x.css.gz`` instead of ``x.css`` when the
      client accepts that coding (never for range requests), with ``Vary``; a sibling
      older than the file itself is ignored.
    - ``max_ranges``: a ``Range`` header with more ranges gets the whole file (200).
    - ``dotfiles``: serve names starting with ``.`` (default: 404, so ``.env`` and
      ``.git/`` never leak).
    - ``untrusted``: the folder holds user uploads: HTML, SVG and XML are sent as
      attachments (``attachment_types`` sets those types explicitly).
    - ``check_dir``: a missing ``directory`` is a :class:`SetupError` (default).

    Every file sent carries ``X-Content-Type-Options: nosniff``; directories, dotfiles
    and names that leave the folder are 404s, whatever their spelling. Anyone may add
    ``?v=`` to a URL; it only lets caches keep the current file longer.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        cache_control: str = "no-cache",
        versioned_cache_control: str = "public, max-age=31536000, immutable",
        follow_symlinks: bool = False,
        precompressed: bool = True,
        max_ranges: int = MAX_RANGES,
        dotfiles: bool = False,
        untrusted: bool = False,
        attachment_types: Collection[str] | None = None,
        check_dir: bool = True,
    ) -> None:
        real = os.path.realpath(directory)
        if check_dir and not os.path.isdir(real):
            raise SetupError(f"the static folder {os.fspath(directory)!r} is not a directory")
        #: The folder's real path: every file served lies under it.
        self.directory = real
        self._inside = real.rstrip(os.sep) + os.sep
        self.follow_symlinks = follow_symlinks
        self.precompressed = precompressed
        self.max_ranges = max_ranges
        self.dotfiles = dotfiles
        if attachment_types is None:
            attachment_types = ACTIVE_CONTENT_TYPES if untrusted else ()
        self.attachment_types = frozenset(t.lower() for t in attachment_types)
        nosniff = ("x-content-type-options", "nosniff")
        self._headers = [("cache-control", cache_control), nosniff]
        self._versioned = [("cache-control", versioned_cache_control), nosniff]
        self._hashes: dict[str, tuple[int, int, str]] = {}

    def __repr__(self) -> str:
        return f"<StaticFiles {self.directory!r}>"

    def resolve(self, filename: str) -> str | None:
        """The real path of ``filename`` inside the folder, or ``None`` if it may not be served.

        Checks the name as text, then resolves symlinks and requires the result to lie in
        the folder (unless ``follow_symlinks``). Reads metadata only: nothing is opened,
        and a name refused here never reaches the filesystem at all.
        """
        if not filename or len(filename) > _MAX_NAME or "\\" in filename or "\x00" in filename:
            return None
        parts = filename.split("/")
        first = parts[0]
        if len(first) == 2 and first[1] == ":":  # a drive, C:/Windows/win.ini
            return None
        for part in parts:
            if not part or part in (".", "..") or len(part) > 255:
                return None  # "//etc/passwd" and "a//b" have empty parts
            if part[0] == "." and not self.dotfiles:
                return None
            if _WINDOWS and (":" in part or part[-1] in ". " or _reserved(part)):
                return None
        real = os.path.realpath(os.path.join(self.directory, *parts))
        if not real.startswith(self._inside) and not self.follow_symlinks:
            return None
        return real

    def _file(self, filename: str) -> tuple[str, os.stat_result] | None:
        path = self.resolve(filename)
        if path is None:
            return None
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            return None
        return (path, info) if stat.S_ISREG(info.st_mode) else None

    def serve(self, req: Request, filename: str) -> FileResponse:
        """Answer ``req`` with the file ``filename`` (a path relative to the folder).

        A plain ``def``: kettle runs it in a worker thread, so the metadata lookups never
        block the loop; the body is read in chunks later, also off the loop.
        """
        found = self._file(filename)
        if found is None:
            raise NotFound()
        path, info = found
        media_type = guess_media_type(filename)
        query: bytes = req.scope.get("query_string", b"")
        versioned = query.startswith(b"v=") or b"&v=" in query
        headers = list(self._versioned if versioned else self._headers)
        if media_type in self.attachment_types:
            name = filename.rpartition("/")[2]
            headers.append(("content-disposition", content_disposition(name)))
        suffix = ""
        if self.precompressed:
            sibling = self._sibling(req, path, info, headers)
            if sibling is not None:
                path, info, suffix = sibling
                headers.append(("content-encoding", suffix))
        return FileResponse(
            path,
            headers=headers,
            media_type=media_type,
            request=req,
            etag=file_etag(info, suffix),
            max_ranges=self.max_ranges,
            stat_result=info,
            follow_symlinks=self.follow_symlinks,
        )

    def _sibling(
        self, req: Request, path: str, info: os.stat_result, headers: list[tuple[str, str]]
    ) -> tuple[str, os.stat_result, str] | None:
        """The precompressed sibling to send instead, if any; adds ``Vary`` when one exists."""
        found: list[tuple[str, os.stat_result, str]] = []
        for ext, coding in _SIBLINGS:
            candidate = path + ext
            # PERF: ``path`` is already real, so only the sibling's own name can be a
            # symlink: one lstat instead of resolving every folder again.
            try:
                other = os.lstat(candidate)
                if stat.S_ISLNK(other.st_mode):
                    candidate = os.path.realpath(candidate)
                    if not candidate.startswith(self._inside) and not self.follow_symlinks:
                        continue
                    other = os.stat(candidate)
            except OSError:
                continue
            # A sibling older than the file is stale: the file was edited, not recompressed.
            if stat.S_ISREG(other.st_mode) and other.st_mtime_ns >= info.st_mtime_ns:
                found.append((candidate, other, coding))
        if not found:
            return None
        headers.append(("vary", "accept-encoding"))
        request_headers = req.headers
        if req.method == "GET" and "range" in request_headers:
            return None  # ranges are cut from the identity file only
        accept = request_headers.get("accept-encoding")
        if not accept:
            return None
        accepted = _accepted_encodings(accept)
        return next((item for item in found if item[2] in accepted), None)

    def content_hash(self, filename: str) -> str | None:
        """A short hash of the file's content (``None`` if it cannot be served).

        Computed once per file and kept until the file's mtime or size changes; the file is
        read in chunks, never whole.
        """
        found = self._file(filename)
        if found is None:
            return None
        path, info = found
        cached = self._hashes.get(path)
        if cached is not None and cached[:2] == (info.st_mtime_ns, info.st_size):
            return cached[2]
        try:
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()[:12]
        except OSError:
            return None
        self._hashes[path] = (info.st_mtime_ns, info.st_size, digest)
        return digest


def _reserved(part: str) -> bool:
    return part.split(".", 1)[0].rstrip().upper() in _RESERVED


def add_static(
    router: Router,
    url_path: str,
    directory: str | os.PathLike[str],
    *,
    name: str = "static",
    **options: Any,
) -> StaticFiles:
    """Serve ``directory`` under ``url_path`` on ``router`` (``router.static(...)``).

    A relative ``directory`` is relative to the router's module folder. The route is
    ``GET <url_path>/<path:filename>`` named ``name``, so
    ``url_for("static", filename="app.css")`` builds its URLs; ``options`` go to
    :class:`StaticFiles`. Returns the handler.
    """
    folder = Path(directory)
    if not folder.is_absolute():
        folder = router.root_dir / folder
    handler = StaticFiles(folder, **options)
    router.add_route(url_path.rstrip("/") + "/<path:filename>", handler.serve, ["GET"], name=name)
    return handler


def install_default_static(app: Kettle) -> None:
    """Register the static folders of ``app`` and of its routers, when they exist.

    The app's ``static_folder`` (``static/`` beside its module) is served at
    ``static_url_path`` as ``"static"``; a named router's at its own ``static_url_path``
    (default ``/<folder name>``) under its prefix, as ``"<router>.static"``. A router that
    already has a route called ``static`` is left alone. Called when the app is finalized.
    """
    seen: set[int] = set()
    pending: list[Router] = [app]
    while pending:
        router = pending.pop()
        if id(router) in seen:
            continue
        seen.add(id(router))
        pending.extend(target for _, target in router.mounts if isinstance(target, Router))
        folder = router.static_dir
        if folder is None or not folder.is_dir():
            continue
        if any(route.name == "static" for route in router.routes):
            continue
        if router is not app and not router.name:
            raise SetupError(
                f"router {router!r} has a static folder but no name: give it one, so that "
                "its files have a url_for() name of their own"
            )
        url_path = router.static_url_path or "/" + folder.name
        add_static(router, url_path, folder, name="static")


def _handlers(app: Kettle) -> dict[str, StaticFiles]:
    # Built on first use, after finalize, when full route names are known.
    handlers: dict[str, StaticFiles] | None = app.extensions.get("staticfiles")
    if handlers is None:
        handlers = {}
        for info in app.iter_routes():
            owner = getattr(info.handler, "__self__", None)
            if isinstance(owner, StaticFiles):
                handlers[info.name] = owner
        app.extensions["staticfiles"] = handlers
    return handlers


def static_url(filename: str, *, endpoint: str = "static", **params: Any) -> str:
    """The URL of static file ``filename``, with ``?v=<content hash>`` for cache busting.

    ``url_for(endpoint, filename=filename)`` plus a version that changes exactly when the
    file does, so pages can reference files that browsers cache for a year. A file that
    cannot be served gets no version. Other ``params`` go to :func:`~kettle.url_for`
    (``_external=True``). Works inside a request only, like ``url_for``.
    """
    from .urls import url_for

    request = get_current_request()
    if request is None:
        raise SetupError("static_url() is used outside a request: call it while serving one")
    name = endpoint
    if name.startswith(".") and request.route is not None:  # relative to the current router
        current = request.route.name
        name = current.rsplit(".", 1)[0] + name if "." in current else name[1:]
    handler = _handlers(request.app).get(name)
    version = handler.content_hash(filename) if handler is not None else None
    if version is not None:
        params["v"] = version
    return url_for(endpoint, filename=filename, **params)

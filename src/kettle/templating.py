"""Jinja2 templates: ``render_template``, ``render_template_string`` and ``stream_template``.

Each app gets one :class:`Templates` — a Jinja environment and what it needs — built on
first use and kept in ``app.extensions["templates"]``. Templates are looked up in the app's
``templates/`` folder first, then in the folder of every mounted :class:`~kettle.Router`
in mount order, so the app wins on a name clash. Rendering is synchronous, like Flask's:
in an ``async def`` handler it runs on the loop (for as long as the render takes), in a
plain ``def`` handler it runs in the handler's worker thread.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.utils import LRUCache

from . import _current
from ._current import get_current_request
from .exceptions import SetupError
from .handlers import describe, is_async_callable
from .responses import StreamingResponse
from .routing import Router

if TYPE_CHECKING:
    from ._site import SiteParts
    from .app import Kettle
    from .requests import Request

__all__ = [
    "Templates",
    "render_template",
    "render_template_string",
    "stream_template",
    "templates_for",
]

TemplateName = str | jinja2.Template | list[str | jinja2.Template]

_AUTOESCAPE = ("html", "htm", "xml", "jinja")
# PERF: a streamed page is sent in pieces of about this many characters. Jinja yields one
# string per template node, and each piece costs a trip to a worker thread, so pieces are
# gathered in the thread rather than sent one node at a time.
_STREAM_PIECE = 8192
_create_lock = threading.Lock()


def templates_for(app: Kettle) -> Templates:
    """The app's :class:`Templates`, created on first use (which finalizes the app)."""
    templates: Templates | None = app.extensions.get("templates")
    if templates is None:
        # Sync handlers render in worker threads: two first renders may race here.
        with _create_lock:
            templates = app.extensions.get("templates")
            if templates is None:
                templates = app.extensions["templates"] = Templates(app)
    return templates


def _outside(function: str) -> RuntimeError:
    return RuntimeError(
        f"{function}() is used outside a request: use app.render_template() or "
        f"kettle.templating.templates_for(app).{function}() instead"
    )


def render_template(name: TemplateName, /, **context: Any) -> str:
    """Render the template ``name`` (or the first that exists of a list) with ``context``.

    Returns a ``str``, which a handler may return as HTML or in a tuple
    (``return render_template("404.html"), 404``). Works inside a request, in ``async def``
    and plain ``def`` handlers alike; outside one, use :func:`templates_for`.
    """
    req = get_current_request()
    if req is None:
        raise _outside("render_template")
    return templates_for(req.app)._render(name, req, context)


def render_template_string(source: str, /, **context: Any) -> str:
    """Render the template text ``source`` with ``context`` (autoescaped, as HTML)."""
    req = get_current_request()
    if req is None:
        raise _outside("render_template_string")
    return templates_for(req.app)._render_string(source, req, context)


def stream_template(name: TemplateName, /, **context: Any) -> StreamingResponse:
    """Render the template ``name`` as it is sent, for large pages.

    The context (and the context processors) are evaluated now; the page itself is
    produced piece by piece in a worker thread while the response is being sent. The
    session is saved before the first byte goes out, so take flashed messages in the
    handler and pass them in the context rather than reading them in a streamed page.
    """
    req = get_current_request()
    if req is None:
        raise _outside("stream_template")
    return templates_for(req.app)._stream(name, req, context)


class _Loader(jinja2.BaseLoader):
    """Looks in each folder in turn; refuses names that could leave the folders."""

    def __init__(self, folders: list[Path], missing: list[Path]) -> None:
        self.folders = folders
        self.missing = missing
        self._files = jinja2.FileSystemLoader([str(folder) for folder in folders])

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        # Jinja's loader already refuses ".." segments; kettle also refuses absolute names,
        # backslashes (a separator on Windows), drive letters and NUL, on every platform.
        if (
            template.startswith("/")
            or "\\" in template
            or "\x00" in template
            or PureWindowsPath(template).drive
        ):
            raise jinja2.TemplateNotFound(template)
        try:
            return self._files.get_source(environment, template)
        except jinja2.TemplateNotFound:
            searched = ", ".join(str(folder) for folder in self.folders) or "no folder"
            skipped = "".join(f"; {folder} does not exist" for folder in self.missing)
            raise jinja2.TemplateNotFound(
                template, f"template {template!r} not found; searched {searched}{skipped}"
            ) from None

    def list_templates(self) -> list[str]:
        return self._files.list_templates()


def _sites(app: Kettle) -> list[SiteParts]:
    # The app, then mounted routers depth-first in mount order: the order of precedence.
    found: list[SiteParts] = []
    seen: set[int] = set()

    def walk(router: Router) -> None:
        if id(router) in seen:
            return
        seen.add(id(router))
        found.append(router)
        for _prefix, target in router.mounts:
            if isinstance(target, Router):
                walk(target)

    walk(app)
    return found


def _merged(sites: list[SiteParts], attribute: str) -> dict[str, Any]:
    # The first site to register a name wins: the app over routers, earlier mounts over later.
    merged: dict[str, Any] = {}
    for site in sites:
        for name, value in getattr(site, attribute).items():
            merged.setdefault(name, value)
    return merged


def _refuse_async(kind: str, name: str, fn: Any) -> None:
    if callable(fn) and is_async_callable(fn):
        raise SetupError(
            f"{kind} {name!r} ({describe(fn)}) is async, but templates render synchronously: "
            "make it a plain function, and load what it needs in the handler or a "
            "before_request hook (store it on req.state)"
        )


def _lazy(module: str, attribute: str, why: str) -> Callable[..., Any]:
    """A template global that imports ``module.attribute`` on first call.

    The helpers come from optional parts of kettle; templates that never call them must
    work without those parts.
    """
    target: Callable[..., Any] | None = None

    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal target
        if target is None:
            try:
                target = getattr(importlib.import_module(module), attribute)
            except ModuleNotFoundError as exc:
                if not exc.name or not (module + ".").startswith(exc.name + "."):
                    raise  # a module that the helper itself imports is missing
                raise RuntimeError(f"{attribute}() in a template needs {why}") from None
        assert target is not None
        return target(*args, **kwargs)

    call.__name__ = call.__qualname__ = attribute
    return call


class Templates:
    """An app's Jinja environment: loader, autoescaping, globals, filters and tests.

    Built once per app by :func:`templates_for` (which finalizes the app, so every router
    and registration is known): the registries of the app and of every mounted router —
    ``template_filters``, ``template_globals``, ``template_tests`` and
    ``context_processors`` — are read here, once, and are app-wide; the app wins on a name
    clash, then routers in mount order. Context processors must be plain functions
    ``fn(req) -> dict`` (rendering is synchronous, as in Flask); an ``async`` one is a
    :class:`~kettle.SetupError` here. Templates reload when their file changes in debug mode
    and are compiled once otherwise.

    Templates see ``url_for``, ``static_url``, ``get_flashed_messages``, ``csrf_token``
    and ``config``, plus ``req``: the request being served, or ``None`` when rendering
    outside a request through this object (context processors then get ``None`` too).
    """

    def __init__(self, app: Kettle) -> None:
        app.finalize()
        self.app = app
        sites = _sites(app)
        folders = [site.template_dir for site in sites if site.template_dir is not None]
        #: The template folders searched, in order (folders that do not exist are skipped).
        self.folders = [folder for folder in folders if folder.is_dir()]
        processors = [fn for site in reversed(sites) for fn in site.context_processors]
        for fn in processors:
            _refuse_async("context processor", getattr(fn, "__name__", repr(fn)), fn)
        # Later processors win, so the app's run last.
        self._processors = tuple(processors)
        #: The :class:`jinja2.Environment` (Flask's ``app.jinja_env``).
        self.env = env = jinja2.Environment(
            loader=_Loader(self.folders, [f for f in folders if f not in self.folders]),
            autoescape=jinja2.select_autoescape(_AUTOESCAPE, default_for_string=True),
            auto_reload=app.debug,
        )
        env.globals.update(
            url_for=_url_builder(app),
            static_url=_lazy("kettle.staticfiles", "static_url", "kettle.staticfiles"),
            get_flashed_messages=_lazy(
                "kettle.flash", "get_flashed_messages", "flash messages (kettle.flash)"
            ),
            csrf_token=_lazy(
                "kettle.security.csrf", "csrf_token", "CSRF protection (kettle.security.csrf)"
            ),
            config=app.config,
        )
        for attribute, registry, kind in (
            ("template_filters", env.filters, "template filter"),
            ("template_globals", env.globals, "template global"),
            ("template_tests", env.tests, "template test"),
        ):
            merged = _merged(sites, attribute)
            for name, fn in merged.items():
                _refuse_async(kind, name, fn)
            registry.update(merged)
        # PERF: render_template_string compiles each distinct source once, not per call.
        self._from_string: LRUCache = LRUCache(64)

    def __repr__(self) -> str:
        return f"<Templates {[str(folder) for folder in self.folders]}>"

    def _context(self, req: Request | None, context: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {"req": req}
        for fn in self._processors:
            extra = fn(req)
            if not isinstance(extra, Mapping):
                raise TypeError(
                    f"context processor {describe(fn)} returned {type(extra).__name__}, not a dict"
                )
            values.update(extra)
        values.update(context)
        return values

    def _request(self) -> Request | None:
        req = get_current_request()
        return req if req is not None and req.app is self.app else None

    def _render(self, name: TemplateName, req: Request | None, context: dict[str, Any]) -> str:
        """Render ``name`` for ``req`` (``None`` outside a request) with ``context``."""
        template = self.env.get_or_select_template(name)
        return template.render(self._context(req, context))

    def _render_string(self, source: str, req: Request | None, context: dict[str, Any]) -> str:
        """Render the template text ``source`` for ``req`` with ``context``."""
        template: jinja2.Template | None = self._from_string.get(source)
        if template is None:
            template = self._from_string[source] = self.env.from_string(source)
        return template.render(self._context(req, context))

    def _stream(
        self, name: TemplateName, req: Request | None, context: dict[str, Any]
    ) -> StreamingResponse:
        """A response that renders ``name`` while it is sent (see :func:`stream_template`)."""
        template = self.env.get_or_select_template(name)
        pieces = template.generate(self._context(req, context))
        return StreamingResponse(_gathered(pieces, req))

    def render_template(self, name: TemplateName, /, **context: Any) -> str:
        """Render ``name``: inside a request as :func:`render_template`; outside one (a
        script, a CLI command, an e-mail) with ``req`` set to ``None``.
        """
        return self._render(name, self._request(), context)

    def render_template_string(self, source: str, /, **context: Any) -> str:
        """Render template text, inside or outside a request."""
        return self._render_string(source, self._request(), context)

    def stream_template(self, name: TemplateName, /, **context: Any) -> StreamingResponse:
        """A streamed render of ``name``, inside or outside a request."""
        return self._stream(name, self._request(), context)


def _url_builder(app: Kettle) -> Callable[..., str]:
    @jinja2.pass_context
    def url_for(ctx: jinja2.runtime.Context, name: str, /, **params: Any) -> str:
        # The request comes from the template's context: a streamed page renders in a
        # thread that serves no request. Imported macros, which get no context, fall back
        # to the current request; outside a request there is none (as app.url_for).
        req = ctx.get("req") or get_current_request()
        return app.url_for(name, _request=req, **params)

    return url_for


def _gathered(pieces: Iterator[str], req: Request | None) -> Iterator[str]:
    # Runs in the threads StreamingResponse advances it in: make the request current there
    # for helpers (flash, csrf) that look it up, for the duration of each step only.
    local = _current.in_thread
    try:
        done = False
        while not done:
            previous = getattr(local, "request", None)
            local.request = req
            buffer: list[str] = []
            size = 0
            try:
                for piece in pieces:
                    buffer.append(piece)
                    size += len(piece)
                    if size >= _STREAM_PIECE:
                        break
                else:
                    done = True
            finally:
                local.request = previous
            if buffer:
                yield "".join(buffer)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()

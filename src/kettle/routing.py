"""Router: routes, middleware, hooks, error handlers and mounts — the registration API.

:class:`Router` is Flask's blueprint and Express's router in one, and :class:`~kettle.Kettle`
is a Router too, so every decorator is written once. Registration only records what it is
given (and checks it); the app compiles everything when it is finalized.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, overload

from ._site import SiteParts
from .converters import Segment, parse_pattern
from .exceptions import RouteConflictError, SetupError
from .handlers import build_call_plan, describe
from .pipeline import after_hook, before_hook, teardown_hook

if TYPE_CHECKING:
    from .pipeline import Middleware
    from .staticfiles import StaticFiles

__all__ = ["Route", "RouteBuilder", "RouteInfo", "Router"]

F = TypeVar("F", bound=Callable[..., Any])
_METHOD = re.compile(r"[A-Z][A-Z0-9_-]*\Z")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class RouteInfo(NamedTuple):
    """One row of the route table (``kettle routes``)."""

    methods: tuple[str, ...]
    path: str
    name: str
    handler: Callable[..., Any]


@dataclass(eq=False, slots=True)
class Route:
    """A route as registered on a router: a local pattern, methods and a handler.

    After finalize, ``path`` and ``name`` are the full ones (mount prefixes and router
    names included); ``req.route`` is this object.
    """

    path: str
    methods: tuple[str, ...]
    handler: Callable[..., Any]
    name: str
    middleware: tuple[Middleware, ...] = ()
    max_body_size: int | None = None
    inline: bool = False
    segments: tuple[Segment, ...] = field(default=(), repr=False)
    #: Per-route overrides of the form limits: ``max_fields``, ``max_files``,
    #: ``max_part_size`` (the app's ``MAX_FORM_*`` settings otherwise).
    form_limits: dict[str, int] = field(default_factory=dict, repr=False)
    #: ``False`` exempts the route from the app's CSRF check (webhooks, token-auth APIs).
    csrf: bool = True
    #: The names of the path parameters, in pattern order.
    param_names: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.param_names = tuple(seg.name for seg in self.segments if seg.name is not None)


def _normalize_methods(methods: Iterable[str] | None) -> tuple[str, ...]:
    if methods is None:
        return ("GET",)
    if isinstance(methods, str):
        raise SetupError(
            f"methods must be a list such as ['GET', 'POST'], not the string {methods!r}"
        )
    result: list[str] = []
    for method in methods:
        upper = method.upper()
        if not _METHOD.match(upper):
            raise SetupError(f"invalid HTTP method {method!r}")
        if upper not in result:
            result.append(upper)
    if not result:
        raise SetupError("a route needs at least one method")
    return tuple(result)


def normalize_prefix(prefix: str) -> str:
    """``/api/`` → ``/api``; a prefix must start with ``/``; ``/`` means no prefix.

    Prefixes are literal: parameters belong in route patterns, where handlers declare them.
    """
    if not prefix.startswith("/"):
        raise SetupError(f"prefix {prefix!r} must start with '/'")
    if "<" in prefix or ">" in prefix:
        raise SetupError(f"prefix {prefix!r} must be literal text, without <parameters>")
    return prefix.rstrip("/")


class RouteBuilder:
    """What ``router.route(path)`` returns: a decorator, and Express-style verb chaining.

    ``@app.route("/login", methods=["GET", "POST"])`` registers a function;
    ``app.route("/book").get(list_books).post(add_book)`` registers one per verb.
    """

    __slots__ = ("_methods", "_options", "_path", "_router")

    def __init__(
        self, router: Router, path: str, methods: tuple[str, ...], options: dict[str, Any]
    ):
        self._router = router
        self._path = path
        self._methods = methods
        self._options = options

    def __call__(self, handler: F) -> F:
        self._router.add_route(self._path, handler, self._methods, **self._options)
        return handler

    def _verb(self, method: str, handler: Callable[..., Any]) -> RouteBuilder:
        self._router.add_route(self._path, handler, (method,), **self._options)
        return self

    def get(self, handler: Callable[..., Any]) -> RouteBuilder:
        """Register ``handler`` for GET (and HEAD) on this path."""
        return self._verb("GET", handler)

    def post(self, handler: Callable[..., Any]) -> RouteBuilder:
        """Register ``handler`` for POST on this path."""
        return self._verb("POST", handler)

    def put(self, handler: Callable[..., Any]) -> RouteBuilder:
        """Register ``handler`` for PUT on this path."""
        return self._verb("PUT", handler)

    def patch(self, handler: Callable[..., Any]) -> RouteBuilder:
        """Register ``handler`` for PATCH on this path."""
        return self._verb("PATCH", handler)

    def delete(self, handler: Callable[..., Any]) -> RouteBuilder:
        """Register ``handler`` for DELETE on this path."""
        return self._verb("DELETE", handler)

    def options(self, handler: Callable[..., Any]) -> RouteBuilder:
        """Register ``handler`` for OPTIONS on this path."""
        return self._verb("OPTIONS", handler)

    def head(self, handler: Callable[..., Any]) -> RouteBuilder:
        """Register ``handler`` for HEAD on this path."""
        return self._verb("HEAD", handler)


class Router(SiteParts):
    """A group of routes with its own middleware, hooks, error handlers and sub-routers.

    Mount it with ``app.mount("/api", router)``. With a ``name``, its routes are named
    ``"<name>.<function>"`` for :func:`url_for`. ``template_folder`` and ``static_folder``
    are relative to the module ``import_name`` (pass ``__name__``); the app's templates win
    over a router's on a name clash.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        import_name: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
    ) -> None:
        self._init_site(import_name, template_folder, static_folder, static_url_path)
        if name is not None and not all(_NAME.match(part) for part in name.split(".")):
            raise SetupError(f"router name {name!r} must be an identifier")
        self.name = name
        self.routes: list[Route] = []
        #: ``(prefix or None, middleware)`` in registration order; hooks are middleware too.
        self.middleware: list[tuple[str | None, Middleware]] = []
        #: Keys are statuses (``404``) or exception classes.
        self.error_handlers: dict[int | type[BaseException], Callable[..., Any]] = {}
        #: Teardown hooks, kept apart: they wrap this router's whole chain, so they run
        #: last whatever the order of registration (Flask's semantics).
        self.teardown: list[Middleware] = []
        #: ``(prefix, Router | ASGI app)`` in registration order.
        self.mounts: list[tuple[str, Any]] = []
        self._frozen = False
        # Routes by pattern shape (literal text, converter kinds): a conflict can only be
        # between routes of one shape, so registering stays linear in the route count.
        self._by_shape: dict[tuple[str, ...], list[Route]] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name or ''}>".replace(" >", ">")

    def _check_open(self, what: str) -> None:
        if self._frozen:
            raise SetupError(
                f"cannot {what}: the app is already finalized (it has served a request or "
                "app.finalize() was called); register everything before the first request"
            )

    # -- routes ------------------------------------------------------------------------

    def add_route(
        self,
        path: str,
        handler: Callable[..., Any],
        methods: Iterable[str] | None = None,
        *,
        name: str | None = None,
        middleware: Iterable[Middleware] = (),
        max_body_size: int | str | None = None,
        max_form_fields: int | None = None,
        max_form_files: int | None = None,
        max_form_part_size: int | str | None = None,
        inline: bool = False,
        csrf: bool = True,
    ) -> Route:
        """Register ``handler`` for ``path`` and ``methods`` (GET by default).

        ``max_body_size`` overrides the app's body limit for this route (``"10MB"`` works),
        and the ``max_form_*`` options its form limits (fields, files, bytes per non-file
        part); ``inline=True`` runs a plain ``def`` handler on the loop (trivial code only);
        ``csrf=False`` exempts the route from the app's cross-site request check (for
        webhooks and APIs authenticated by a token rather than a cookie).
        """
        self._check_open(f"add route {path!r}")
        if not callable(handler):
            raise SetupError(f"the handler for {path!r} is not callable: {handler!r}")
        segments = parse_pattern(path)
        route_name = name or getattr(handler, "__name__", None)
        if not route_name or not _NAME.match(route_name):
            raise SetupError(f"route {path!r} needs a name= (its handler has no usable __name__)")
        from .config import parse_size

        form_limits = {
            key: parse_size(value)
            for key, value in (
                ("max_fields", max_form_fields),
                ("max_files", max_form_files),
                ("max_part_size", max_form_part_size),
            )
            if value is not None
        }
        route = Route(
            path,
            _normalize_methods(methods),
            handler,
            route_name,
            tuple(middleware),
            parse_size(max_body_size) if max_body_size is not None else None,
            inline,
            segments,
            form_limits,
            csrf,
        )
        # The plan is rebuilt at finalize; building it now reports a parameter nothing
        # can supply at the line that registers the route.
        build_call_plan(handler, route.param_names, f"route {path!r}")
        shape = tuple(seg.shape for seg in segments)
        same_shape = self._by_shape.setdefault(shape, [])
        for other in same_shape:
            if set(other.methods) & set(route.methods):
                raise RouteConflictError(
                    f"routes {other.path!r} ({describe(other.handler)}) and {path!r} "
                    f"({describe(handler)}) can never be told apart for "
                    f"{', '.join(sorted(set(other.methods) & set(route.methods)))}"
                )
        same_shape.append(route)
        self.routes.append(route)
        return route

    def route(
        self, path: str, methods: Iterable[str] | None = None, **options: Any
    ) -> RouteBuilder:
        """Decorator for ``path`` (GET unless ``methods`` says otherwise); also chains
        ``.get(fn)``, ``.post(fn)``, … Express-style.
        """
        return RouteBuilder(self, path, _normalize_methods(methods), options)

    def _verb(self, method: str, path: str, options: dict[str, Any]) -> Callable[[F], F]:
        def decorator(handler: F) -> F:
            self.add_route(path, handler, (method,), **options)
            return handler

        return decorator

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a GET handler (HEAD is answered by it too)."""
        return self._verb("GET", path, options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a POST handler."""
        return self._verb("POST", path, options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a PUT handler."""
        return self._verb("PUT", path, options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a PATCH handler."""
        return self._verb("PATCH", path, options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a DELETE handler."""
        return self._verb("DELETE", path, options)

    def options(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register an OPTIONS handler (otherwise kettle answers OPTIONS with ``Allow``)."""
        return self._verb("OPTIONS", path, options)

    def head(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a HEAD handler (otherwise the GET handler answers, without a body)."""
        return self._verb("HEAD", path, options)

    # -- middleware and hooks ------------------------------------------------------------

    @overload
    def use(self, middleware: F, /) -> F: ...
    @overload
    def use(self, prefix: str, /) -> Callable[[F], F]: ...
    @overload
    def use(self, first: Any, /, *more: Any) -> Any: ...

    def use(self, first: Any, /, *more: Any) -> Any:
        """Add middleware, ``async def mw(req, call_next) -> Response``, outermost first.

        ``use(mw)``, ``use(mw1, mw2)``, ``use("/admin", mw)`` (only for paths under
        ``/admin``), ``@use`` and ``@use("/admin")`` as decorators. ``use("/api", router)``
        mounts a Router, as in Express.
        """
        prefix: str | None = None
        items: tuple[Any, ...] = (first, *more)
        if isinstance(first, str):
            prefix, items = normalize_prefix(first), more
            if not items:

                def decorator(middleware: F) -> F:
                    self._add_middleware(prefix, middleware)
                    return middleware

                return decorator
        for item in items:
            if isinstance(item, Router):
                self.mount(prefix or "/", item)
            else:
                self._add_middleware(prefix, item)
        return items[0] if len(items) == 1 else None

    def _add_middleware(self, prefix: str | None, middleware: Middleware) -> None:
        self._check_open("add middleware")
        if not callable(middleware):
            raise SetupError(f"middleware must be callable, not {middleware!r}")
        self.middleware.append((prefix or None, middleware))

    def before_request(self, hook: F) -> F:
        """Run ``hook(req)`` before the handler; a non-``None`` return answers instead."""
        self._add_middleware(None, before_hook(hook))
        return hook

    def after_request(self, hook: F) -> F:
        """Run ``hook(req, response)`` after the handler; it returns the response to send."""
        self._add_middleware(None, after_hook(hook))
        return hook

    def teardown_request(self, hook: F) -> F:
        """Run ``hook(req, exc)`` when the request is done, even after an error; errors in it
        are logged, never sent.
        """
        self._check_open("add a teardown hook")
        self.teardown.append(teardown_hook(hook))
        return hook

    # -- errors --------------------------------------------------------------------------

    def errorhandler(self, key: int | type[BaseException]) -> Callable[[F], F]:
        """Handle a status (``404``) or an exception class (looked up along the MRO).

        The handler is called as ``handler(req, exc)`` and returns a response or any
        value a route handler may return. A router's handlers win for its own routes.
        """

        def decorator(handler: F) -> F:
            self.register_error_handler(key, handler)
            return handler

        return decorator

    def register_error_handler(
        self, key: int | type[BaseException], handler: Callable[..., Any]
    ) -> None:
        """Non-decorator form of :meth:`errorhandler`."""
        self._check_open("add an error handler")
        if isinstance(key, int):
            if not 400 <= key <= 599:
                raise SetupError(f"error handlers take statuses 400-599, not {key}")
        elif not (isinstance(key, type) and issubclass(key, BaseException)):
            raise SetupError(f"errorhandler() takes a status or an exception class, not {key!r}")
        self.error_handlers[key] = handler

    def static(
        self,
        url_path: str,
        directory: str | os.PathLike[str],
        *,
        name: str = "static",
        **options: Any,
    ) -> StaticFiles:
        """Serve the files in ``directory`` under ``url_path`` as route ``name``.

        ``directory`` is relative to this router's module folder; see
        :func:`~kettle.staticfiles.add_static` for the options (caching, precompressed
        files, symlinks, attachments for untrusted uploads).
        """
        from .staticfiles import add_static

        return add_static(self, url_path, directory, name=name, **options)

    # -- mounting ------------------------------------------------------------------------

    def mount(self, prefix: str, target: Any, *, wsgi: bool | None = None) -> None:
        """Serve ``target`` under ``prefix``: a :class:`Router`, an ASGI app or a WSGI app
        (a Flask app keeps working under the prefix). ``wsgi=`` overrides the detection.
        """
        self._check_open(f"mount {prefix!r}")
        prefix = normalize_prefix(prefix)
        if isinstance(target, Router):
            if target is self:
                raise SetupError("a router cannot be mounted inside itself")
        else:
            from .wsgi import as_asgi_app

            if not prefix:
                raise SetupError("a foreign app needs a prefix other than '/'")
            target = as_asgi_app(target, wsgi)
        self.mounts.append((prefix, target))

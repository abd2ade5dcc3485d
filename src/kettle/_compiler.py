"""Finalize: walk the router tree once and compile the dispatch table.

Every route gets its full pattern, its full name, its call plan and its middleware chain;
every path gets its method table with HEAD, OPTIONS and 405 answers built in; every router
prefix gets a chain for 404s, so unmatched requests still pass through the middleware of
the app and of each router they fall under.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._trie import PathTable
from .converters import Converter, Segment, parse_pattern
from .exceptions import Forbidden, MethodNotAllowed, NotFound, RouteConflictError, SetupError
from .handlers import ThreadRunner, blocking_await, build_call_plan, describe
from .pipeline import Chain, ErrorPolicy, Middleware, compose
from .responses import RedirectResponse, Response, _json_answer, coerce_response
from .routing import Route, Router
from .security.cors import CORS
from .urls import UrlRule

if TYPE_CHECKING:
    from .requests import Request
    from .security.csrf import CSRFProtection

Layers = list[tuple[Middleware, str | None]]
_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))


class Endpoint:
    """What dispatch hands the server adapter: a compiled chain and its error policy.

    ``mount`` is set instead for a foreign ASGI app mounted under ``prefix``.
    """

    __slots__ = ("chain", "errors", "mount", "prefix", "route")

    def __init__(
        self,
        chain: Callable[[Request], Awaitable[Any]],
        errors: ErrorPolicy,
        route: Route | None = None,
        mount: Any = None,
        prefix: str = "",
    ) -> None:
        self.chain = chain
        self.errors = errors
        self.route = route
        self.mount = mount
        self.prefix = prefix


class PathEntry:
    """The method table of one path pattern, plus its 405 answer."""

    __slots__ = ("methods", "not_allowed", "owner", "routes")

    def __init__(self) -> None:
        self.methods: dict[str, Endpoint] = {}
        self.routes: list[tuple[Route, tuple[str, ...]]] = []
        self.not_allowed: Endpoint | None = None
        self.owner: _Scope | None = None


class _Scope:
    """A router as placed in the tree: its absolute prefix, name and inherited layers."""

    __slots__ = ("errors", "layers", "name", "prefix", "router", "routers")

    def __init__(
        self, router: Router, prefix: str, name: str, layers: Layers, routers: tuple[Router, ...]
    ):
        self.router = router
        self.prefix = prefix
        self.name = name
        self.layers = layers
        self.routers = routers  # innermost first, the app last
        self.errors: ErrorPolicy | None = None


def _placement(route_segments: tuple[Segment, ...], prefix: str) -> bool | None:
    """Whether every path of the route lies under ``prefix``: True, False, or None when
    only the request can tell (a converter where the prefix has text)."""
    wanted = prefix[1:].split("/") if prefix else []
    for i, text in enumerate(wanted):
        if i >= len(route_segments):
            return False
        seg = route_segments[i]
        if seg.text is None:
            return None
        if seg.text != text:
            return False
    return True


def _error_leaf(make_error: Callable[[Request], Exception], errors: ErrorPolicy) -> Chain:
    # The error becomes a response inside the chain, so middleware sees 404s and 405s too.
    async def leaf(req: Request) -> Response:
        return await errors.handle(req, make_error(req))

    return Chain(leaf, None)


def _csrf_leaf(csrf: CSRFProtection, leaf: Chain, errors: ErrorPolicy, wrapped: bool) -> Chain:
    inner = leaf.acall
    if csrf.tokens:
        check: Callable[[Request], Awaitable[None]] = csrf.protect
    else:
        # PERF: the header check is sync; no coroutine per request when tokens are off.
        rejection = csrf.rejection

        async def check(req: Request) -> None:
            reason = rejection(req)
            if reason is not None:
                raise Forbidden(reason)

    if not wrapped:
        # The adapter turns errors into responses for a chain without middleware.
        async def guarded(req: Request) -> Any:
            await check(req)
            return await inner(req)

        return Chain(guarded, None)

    async def guarded_in_chain(req: Request) -> Any:
        try:
            await check(req)
        except Exception as exc:
            return await errors.handle(req, exc)
        return await inner(req)

    return Chain(guarded_in_chain, None)


class Compiler:
    """Builds the dispatch structures of one app; used once, by ``Kettle.finalize``."""

    def __init__(self, app: Any, runner: ThreadRunner, converters: dict[str, type[Converter]]):
        self.app = app
        self.runner = runner
        self.converters = converters
        self.debug = bool(app.config["DEBUG"])
        self.csrf: CSRFProtection | None = app._csrf_protection
        self.table: PathTable[PathEntry] = PathTable()
        self.names: dict[str, list[UrlRule]] = {}
        self.name_owner: dict[str, Callable[..., Any]] = {}
        self.fallbacks: list[tuple[str, Endpoint, Endpoint]] = []  # (prefix, 404, redirect)
        self.mounts: list[tuple[str, Endpoint]] = []
        self.infos: list[tuple[tuple[str, ...], str, str, Callable[..., Any]]] = []

    def run(self) -> None:
        """Walk the tree from the app and fill the tables."""
        self._walk(self.app, "", "", [], (), set())
        self.fallbacks.sort(key=lambda item: len(item[0]), reverse=True)
        self.mounts.sort(key=lambda item: len(item[0]), reverse=True)

    def _walk(
        self,
        router: Router,
        prefix: str,
        name: str,
        layers: Layers,
        parents: tuple[Router, ...],
        seen: set[int],
    ) -> None:
        if id(router) in seen:
            raise SetupError(f"router {router!r} is mounted inside itself")
        router._frozen = True
        routers = (router, *parents)
        own: Layers = [(mw, None) for mw in router.teardown]
        own += [(mw, prefix + p if p else None) for p, mw in router.middleware]
        scope = _Scope(router, prefix, name, layers + own, routers)
        scope.errors = ErrorPolicy(routers, self.debug, self.runner)
        self._add_fallback(scope)
        for route in router.routes:
            self._add_route(scope, route)
        for mount_prefix, target in router.mounts:
            full = prefix + mount_prefix
            if isinstance(target, Router):
                child_name = (
                    f"{name}.{target.name}" if name and target.name else (target.name or name)
                )
                self._walk(target, full, child_name, scope.layers, routers, seen | {id(router)})
            else:
                # The ASGI adapter hands the request to the mounted app itself; the chain
                # (a 404) answers only where an adapter cannot run an ASGI app.
                fallback = _error_leaf(lambda req: NotFound(), scope.errors).acall
                self.mounts.append(
                    (full, Endpoint(fallback, scope.errors, mount=target, prefix=full))
                )
                self.infos.append((("*",), full + "/...", "", target))

    def _layers_for(self, scope: _Scope, segments: tuple[Segment, ...]) -> Layers:
        result: Layers = []
        for mw, prefix in scope.layers:
            if prefix is None:
                result.append((mw, None))
                continue
            placed = _placement(segments, prefix)
            if placed is None:
                result.append((mw, prefix))
            elif placed:
                result.append((mw, None))
        return result

    def _leaf(self, route: Route, errors: ErrorPolicy, wrapped: bool) -> Chain:
        where = f"route {route.path!r}"
        plan = build_call_plan(route.handler, route.param_names, where)
        call = plan.call
        runner = self.runner
        if plan.is_async:
            if not wrapped:
                # PERF: without middleware the adapter coerces and handles errors itself, so
                # the handler's own coroutine is the whole chain.
                return Chain(call, None)

            async def async_leaf(req: Request) -> Response:
                try:
                    result = await call(req)
                    if result.__class__ is dict:
                        # PERF: the commonest answer behind middleware, without the call
                        # to coerce_response (~700 instructions).
                        return _json_answer(result)
                    return result if isinstance(result, Response) else coerce_response(result)
                except Exception as exc:
                    return await errors.handle(req, exc)

            return Chain(async_leaf, None)

        def sync_leaf(req: Request) -> Response:
            try:
                result = call(req)
                return result if isinstance(result, Response) else coerce_response(result)
            except Exception as exc:
                return blocking_await(errors.handle(req, exc))

        if route.inline:

            async def inline_leaf(req: Request) -> Response:
                try:
                    result = call(req)
                    return result if isinstance(result, Response) else coerce_response(result)
                except Exception as exc:
                    return await errors.handle(req, exc)

            return Chain(inline_leaf, None)
        return Chain(lambda req: runner.run(sync_leaf, req), sync_leaf)

    def _chain(
        self, layers: Layers, leaf: Chain, errors: ErrorPolicy
    ) -> Callable[[Request], Awaitable[Any]]:
        return compose(layers, leaf, self.runner, errors).acall if layers else leaf.acall

    def _add_route(self, scope: _Scope, route: Route) -> None:
        full_path = (
            scope.prefix + route.path
            if route.path != "/" or not scope.prefix
            else scope.prefix + "/"
        )
        segments = parse_pattern(full_path)
        full_name = f"{scope.name}.{route.name}" if scope.name else route.name
        compiled = dataclasses.replace(route, path=full_path, name=full_name, segments=segments)
        assert scope.errors is not None
        layers = self._layers_for(scope, segments) + [(mw, None) for mw in route.middleware]
        leaf = self._leaf(compiled, scope.errors, bool(layers))
        endpoint = Endpoint(self._chain(layers, leaf, scope.errors), scope.errors, compiled)
        guarded = endpoint
        if self.csrf is not None and route.csrf and not _SAFE_METHODS.issuperset(route.methods):
            # Unsafe methods get an endpoint of their own whose innermost step is the CSRF
            # check (after every middleware, as Django's view-level check): GETs pay nothing.
            guarded_leaf = _csrf_leaf(self.csrf, leaf, scope.errors, bool(layers))
            guarded = Endpoint(
                self._chain(layers, guarded_leaf, scope.errors), scope.errors, compiled
            )
        entry = self.table.setdefault(
            segments, lambda seg: seg.make_converter(self.converters), PathEntry
        )
        for method in route.methods:
            other = entry.methods[method].route if method in entry.methods else None
            # Only explicit registrations clash; HEAD-from-GET and automatic OPTIONS yield.
            if other is not None and method in other.methods:
                raise RouteConflictError(
                    f"routes {other.path!r} ({describe(other.handler)}) and {full_path!r} "
                    f"({describe(route.handler)}) can never be told apart for {method}"
                )
            entry.methods[method] = endpoint if method in _SAFE_METHODS else guarded
        if "GET" in route.methods and "HEAD" not in entry.methods:
            entry.methods["HEAD"] = endpoint
        entry.routes.append((compiled, route.methods))
        if entry.owner is None:
            entry.owner = scope
        self._rebuild_entry(entry, segments)
        self._add_name(compiled, segments)
        self.infos.append((route.methods, full_path, full_name, route.handler))

    def _rebuild_entry(self, entry: PathEntry, segments: tuple[Segment, ...]) -> None:
        owner = entry.owner
        assert owner is not None and owner.errors is not None
        allowed = sorted(
            {m for _, methods in entry.routes for m in methods}
            | {"OPTIONS"}
            | ({"HEAD"} if any("GET" in ms for _, ms in entry.routes) else set())
        )
        layers = self._layers_for(owner, segments)
        entry.not_allowed = Endpoint(
            self._chain(
                layers,
                _error_leaf(lambda req: MethodNotAllowed(allowed), owner.errors),
                owner.errors,
            ),
            owner.errors,
        )
        options = entry.methods.get("OPTIONS")
        if options is None or options.route is None:
            allow = ", ".join(allowed)
            # A CORS given to one of this path's routes answers that path's preflights too.
            cors: list[Middleware] = [
                mw for route, _ in entry.routes for mw in route.middleware if isinstance(mw, CORS)
            ]
            options_layers: Layers = [*layers, (cors[0], None)] if cors else layers

            async def answer_options(req: Request) -> Response:
                return Response(None, 204, {"allow": allow})

            entry.methods["OPTIONS"] = Endpoint(
                self._chain(options_layers, Chain(answer_options, None), owner.errors),
                owner.errors,
            )

    def _add_name(self, route: Route, segments: tuple[Segment, ...]) -> None:
        owner = self.name_owner.setdefault(route.name, route.handler)
        if owner is not route.handler:
            raise SetupError(
                f"two different handlers are named {route.name!r}: {describe(owner)} and "
                f"{describe(route.handler)}; give one a name= of its own"
            )
        converters = {seg.name: seg.make_converter(self.converters) for seg in segments if seg.name}
        self.names.setdefault(route.name, []).append(UrlRule(route.path, segments, converters))

    def _add_fallback(self, scope: _Scope) -> None:
        assert scope.errors is not None
        layers = [(mw, prefix) for mw, prefix in scope.layers]

        async def moved(req: Request) -> Response:
            return RedirectResponse(req.path_params["location"], 308)

        not_found_leaf = _error_leaf(lambda req: req.app.routing_error(req), scope.errors)
        not_found = Endpoint(self._chain(layers, not_found_leaf, scope.errors), scope.errors)
        redirect = Endpoint(self._chain(layers, Chain(moved, None), scope.errors), scope.errors)
        self.fallbacks.append((scope.prefix, not_found, redirect))

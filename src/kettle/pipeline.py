"""Middleware, hooks and error handlers, composed once per route at finalize.

A route's chain is built from the inside out: the handler's leaf, then each middleware
wrapped around it, innermost last registered. ``call_next`` is simply the next link, a plain
function returning an awaitable, so a middleware layer costs one call and one coroutine —
no task groups, no streams. Sync middleware and sync handlers run in worker threads; when a
chain is sync from end to end, the whole chain runs in a single trip to a thread.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from .exceptions import ClientDisconnect, HTTPError
from .handlers import ThreadRunner, blocking_await, describe, is_async_callable
from .responses import HTMLResponse, JSONResponse, Response, TextResponse, coerce_response

if TYPE_CHECKING:
    from .requests import Request
    from .routing import Router

__all__ = [
    "CallNext",
    "Chain",
    "ErrorPolicy",
    "Middleware",
    "after_hook",
    "before_hook",
    "compose",
    "teardown_hook",
]

logger = logging.getLogger("kettle.error")

CallNext = Callable[["Request"], Awaitable[Response]]
#: ``async def mw(req, call_next) -> Response`` (or a plain ``def`` taking a sync call_next).
Middleware = Callable[["Request", Any], Any]


class Chain(NamedTuple):
    """A compiled chain: ``acall(req)`` returns an awaitable of the result; ``scall`` is the
    same chain as a plain function when every step is sync (it then runs in a thread).
    """

    acall: Callable[[Request], Awaitable[Any]]
    scall: Callable[[Request], Response] | None


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/") if prefix else True


def compose(
    layers: list[tuple[Middleware, str | None]],
    leaf: Chain,
    runner: ThreadRunner,
    errors: ErrorPolicy,
) -> Chain:
    """Wrap ``leaf`` in ``layers`` (outermost first); a layer's prefix, when given, is
    checked per request (only for path-scoped middleware whose scope the route's pattern
    could not decide at compile time).

    Every layer but the outermost turns its own errors into responses, so the layers
    around it see a 401 from an auth middleware as they see one from a handler; the
    outermost layer's errors are handled by the server adapter with the same policy.
    """
    acall, scall = leaf
    last = len(layers) - 1
    for depth, (middleware, prefix) in enumerate(reversed(layers)):
        guard = errors if depth < last else None
        if is_async_callable(middleware):
            acall, scall = _async_link(middleware, acall, prefix, guard), None
        else:
            inner = scall if scall is not None else _blocking(acall)
            scall = _sync_link(middleware, inner, prefix, guard)
            acall = _offload(scall, runner)
    return Chain(acall, scall)


def _async_link(
    mw: Middleware,
    nxt: Callable[[Request], Awaitable[Any]],
    prefix: str | None,
    errors: ErrorPolicy | None,
) -> Callable[[Request], Awaitable[Any]]:
    if errors is not None:
        # Measured: about 80 ns per layer, the price of a coroutine frame (BENCHMARKS.md's
        # middleware scenario stays well inside its budget).
        async def guarded(req: Request) -> Any:
            try:
                if prefix is None or _under(req.path, prefix):
                    return await mw(req, nxt)
                return await nxt(req)
            except Exception as exc:
                return await errors.handle(req, exc)

        return guarded
    if prefix is None:
        # PERF: a plain function handing back the middleware's coroutine; no extra frame.
        def link(req: Request) -> Awaitable[Any]:
            return mw(req, nxt)  # type: ignore[no-any-return]
    else:

        def link(req: Request) -> Awaitable[Any]:
            return mw(req, nxt) if _under(req.path, prefix) else nxt(req)

    return link


def _sync_link(
    mw: Middleware,
    nxt: Callable[[Request], Response],
    prefix: str | None,
    errors: ErrorPolicy | None,
) -> Callable[[Request], Response]:
    def link(req: Request) -> Response:
        if prefix is not None and not _under(req.path, prefix):
            return nxt(req)
        if errors is None:
            return coerce_response(mw(req, nxt))
        try:
            return coerce_response(mw(req, nxt))
        except Exception as exc:
            return blocking_await(errors.handle(req, exc))

    return link


def _blocking(acall: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Response]:
    def call_next(req: Request) -> Response:
        return coerce_response(blocking_await(acall(req)))

    return call_next


def _offload(
    scall: Callable[[Request], Response], runner: ThreadRunner
) -> Callable[[Request], Awaitable[Response]]:
    def link(req: Request) -> Awaitable[Response]:
        return runner.run(scall, req)

    return link


# -- hooks: sugar over middleware -----------------------------------------------------------


def before_hook(hook: Callable[..., Any]) -> Middleware:
    """Middleware running ``hook(req)`` first; a non-None result answers the request."""
    if is_async_callable(hook):

        async def before(req: Request, call_next: CallNext) -> Response:
            result = await hook(req)
            return coerce_response(result) if result is not None else await call_next(req)

        return before

    def before_sync(req: Request, call_next: Callable[[Request], Response]) -> Response:
        result = hook(req)
        return coerce_response(result) if result is not None else call_next(req)

    return before_sync


def after_hook(hook: Callable[..., Any]) -> Middleware:
    """Middleware passing the response through ``hook(req, response)``."""
    if is_async_callable(hook):

        async def after(req: Request, call_next: CallNext) -> Response:
            response = await call_next(req)
            result = await hook(req, response)
            return response if result is None else coerce_response(result)

        return after

    def after_sync(req: Request, call_next: Callable[[Request], Response]) -> Response:
        response = call_next(req)
        result = hook(req, response)
        return response if result is None else coerce_response(result)

    return after_sync


def _log_teardown_error(hook: Callable[..., Any]) -> None:
    logger.exception("teardown hook %s failed", describe(hook))


def teardown_hook(hook: Callable[..., Any]) -> Middleware:
    """Middleware calling ``hook(req, exc)`` once the response exists or an error escaped."""
    if is_async_callable(hook):

        async def teardown(req: Request, call_next: CallNext) -> Response:
            try:
                response = await call_next(req)
            except BaseException as exc:
                try:
                    await hook(req, exc)
                except Exception:
                    _log_teardown_error(hook)
                raise
            try:
                await hook(req, req.error)
            except Exception:
                _log_teardown_error(hook)
            return response

        return teardown

    def teardown_sync(req: Request, call_next: Callable[[Request], Response]) -> Response:
        error: BaseException | None = None
        try:
            return call_next(req)
        except BaseException as exc:
            error = exc
            raise
        finally:
            try:
                hook(req, error or req.error)
            except Exception:
                _log_teardown_error(hook)

    return teardown_sync


# -- errors -----------------------------------------------------------------------------------


class ErrorPolicy:
    """Turns an exception into a response for the routes of one router scope.

    Handlers are looked up Flask's way: a status handler first (for HTTP errors), then the
    exception's MRO; the innermost router before its parents and the app. Results are cached
    per exception class. An error inside an error handler gives a plain, logged 500.
    """

    __slots__ = ("_cache", "debug", "runner", "scopes")

    def __init__(self, scopes: tuple[Router, ...], debug: bool, runner: ThreadRunner) -> None:
        self.scopes = scopes
        self.debug = debug
        self.runner = runner
        self._cache: dict[Any, Callable[..., Any] | None] = {}

    def find(self, exc: BaseException) -> Callable[..., Any] | None:
        """The registered handler for ``exc``, or ``None``."""
        status = exc.status if isinstance(exc, HTTPError) else None
        key = (type(exc), status)
        try:
            return self._cache[key]
        except KeyError:
            pass
        found: Callable[..., Any] | None = None
        if status is not None:
            found = next(
                (s.error_handlers[status] for s in self.scopes if status in s.error_handlers), None
            )
        if found is None:
            for scope in self.scopes:
                found = next(
                    (
                        scope.error_handlers[c]
                        for c in type(exc).__mro__
                        if c in scope.error_handlers
                    ),
                    None,
                )
                if found is not None:
                    break
        self._cache[key] = found
        return found

    async def handle(self, req: Request, exc: Exception) -> Response:
        """The response for ``exc`` raised while serving ``req``."""
        req.error = exc
        if isinstance(exc, ClientDisconnect):
            return Response(None, 400)  # nobody is listening; send nothing of substance
        handler = self.find(exc)
        if handler is None:
            return self.default_response(req, exc)
        try:
            if is_async_callable(handler):
                result = await handler(req, exc)
            else:
                result = await self.runner.run(handler, req, exc)
            return coerce_response(result)
        except Exception:
            request_id = request_id_of(req)
            logger.exception(
                "error handler %s failed while handling %r [request id %s]",
                describe(handler),
                exc,
                request_id,
            )
            return TextResponse(
                f"Internal Server Error (request id {request_id})",
                500,
                {"x-request-id": request_id},
            )

    def default_response(self, req: Request, exc: Exception) -> Response:
        """Kettle's own error response: JSON, or a small HTML page for browsers."""
        request_id = None
        if isinstance(exc, HTTPError):
            status, detail, headers = exc.status, exc.detail, exc.headers
        else:
            # The page shows no exception text outside debug; the id it does show matches
            # the log line holding the traceback.
            request_id = request_id_of(req)
            logger.error(
                "unhandled error in %s %s [request id %s]",
                req.method,
                req.path,
                request_id,
                exc_info=exc,
            )
            status, headers = 500, {"x-request-id": request_id}
            detail = (
                "".join(traceback.format_exception(exc)) if self.debug else "Internal Server Error"
            )
        if req.accepts("application/json", "text/html") == "text/html":
            title = f"{status} {html.escape(_phrase(status))}"
            body = (
                f"<!doctype html>\n<title>{title}</title>\n<h1>{title}</h1>\n"
                f"<pre>{html.escape(detail)}</pre>\n"
            )
            if request_id is not None:
                body += f"<p>Request ID: <code>{request_id}</code></p>\n"
            return HTMLResponse(body, status, headers)
        error: dict[str, Any] = {"status": status, "detail": detail}
        if request_id is not None:
            error["request_id"] = request_id
        return JSONResponse({"error": error}, status, headers)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_of(req: Request) -> str:
    """The id that ties an error page to its log line: a sane ``X-Request-ID`` set by a
    trusted proxy in front (so its logs match too), else a new random one.

    The header is believed only when the app trusts proxies (``TRUSTED_PROXIES`` or
    ``PROXY_HOPS``); otherwise any client could choose the id written to the log.
    """
    if req.app._proxies is not None:
        sent = req.headers.get("x-request-id")
        if sent and _REQUEST_ID.fullmatch(sent):
            return sent
    return secrets.token_hex(8)


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

"""Call plans built once from a handler's signature, and the thread pool for sync code.

At registration kettle reads a handler's parameters and decides, once, where each argument
comes from: the request (a ``req``/``request`` parameter or a ``Request`` annotation) or a
path parameter by name. The result is a plain function ``call(req) -> return value``; the
common shapes get a dedicated form so a request pays for one call, not a loop over sources.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Collection, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

from . import _current
from .exceptions import SetupError

if TYPE_CHECKING:
    from .requests import Request

__all__ = [
    "CallPlan",
    "ThreadRunner",
    "blocking_await",
    "build_call_plan",
    "describe",
    "is_async_callable",
]

_T = TypeVar("_T")
_REQUEST_NAMES = frozenset({"req", "request"})
_thread_state = threading.local()


def describe(fn: Callable[..., Any]) -> str:
    """``module.qualname (file:line)`` for error messages about a user's function."""
    target = inspect.unwrap(fn)
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
    code = getattr(target, "__code__", None)
    return f"{name} ({code.co_filename}:{code.co_firstlineno})" if code else name


def is_async_callable(fn: Any) -> bool:
    """Whether calling ``fn`` returns an awaitable (async def, or an object with one)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an instance with an async __call__
    )


class ThreadRunner:
    """A bounded thread pool that runs sync code off the event loop.

    The pool starts lazily and is shut down with the app; context variables (the current
    request) are copied into the thread, and the thread knows its loop so that sync
    middleware can wait for async code further down the chain.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            executor = self._executor = ThreadPoolExecutor(
                self.size, thread_name_prefix="kettle-sync"
            )
        return executor

    def run(self, fn: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        """Run ``fn(*args)`` in the pool; await the returned future on the loop."""
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        return loop.run_in_executor(self._pool(), _enter_thread, loop, ctx, fn, args)

    def close(self) -> None:
        """Stop the pool's threads once their work is done (a later ``run`` restarts it)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)


def _enter_thread(
    loop: asyncio.AbstractEventLoop,
    ctx: contextvars.Context,
    fn: Callable[..., _T],
    args: tuple[Any, ...],
) -> _T:
    _thread_state.loop = loop
    # The request, when the thread serves one, for url_for() and friends.
    request = args[0] if args and isinstance(args[0], _request_type()) else None
    _current.in_thread.request = request
    try:
        return ctx.run(fn, *args)
    finally:
        _current.in_thread.request = None


def _request_type() -> type:
    from .requests import Request

    return Request


async def _await(awaitable: Awaitable[_T], req: Any) -> _T:
    # ``req`` is the worker thread's: this frame holds it for get_current_request().
    return await awaitable


_current.serves_requests(_await)


def blocking_await(awaitable: Awaitable[_T]) -> _T:
    """From a kettle worker thread, wait for ``awaitable`` to finish on the app's loop."""
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_state, "loop", None)
    if loop is None:
        raise RuntimeError("blocking_await() called outside a kettle worker thread")
    request = getattr(_current.in_thread, "request", None)
    coro: Coroutine[Any, Any, _T] = _await(awaitable, request)
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


@dataclass(frozen=True, slots=True)
class CallPlan:
    """How to call one handler: ``call(req)`` returns what the handler returns.

    ``sources`` records, per parameter, where its value comes from (``"request"`` or
    ``"path:<name>"``); typed query and body parameters will add kinds of their own.
    """

    handler: Callable[..., Any]
    is_async: bool
    sources: tuple[tuple[str, str], ...]
    call: Callable[[Request], Any]


def _wants_request(param: inspect.Parameter, hint: Any) -> bool:
    from .requests import Request  # a cycle at import time only

    if isinstance(hint, type) and issubclass(hint, Request):
        return True
    return param.name in _REQUEST_NAMES and hint in (inspect.Parameter.empty, Any)


def build_call_plan(
    handler: Callable[..., Any], path_params: Collection[str], where: str
) -> CallPlan:
    """Read ``handler``'s signature once and build its :class:`CallPlan`.

    A parameter that neither the request nor a path parameter can supply (and that has no
    default) is a :class:`SetupError` naming the handler and ``where`` (the route).
    """
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError) as exc:
        raise SetupError(f"cannot read the signature of {describe(handler)}: {exc}") from None
    try:
        hints = get_type_hints(inspect.unwrap(handler))
    except Exception:  # an unresolvable forward reference: fall back to names only
        hints = {}
    sources: list[tuple[str, str]] = []
    takes_kwargs = False
    for param in signature.parameters.values():
        if param.kind is param.VAR_KEYWORD:
            takes_kwargs = True
            continue
        if param.kind is param.VAR_POSITIONAL:
            continue
        hint = hints.get(param.name, param.annotation)
        if _wants_request(param, hint):
            sources.append((param.name, "request"))
        elif param.name in path_params:
            sources.append((param.name, f"path:{param.name}"))
        elif param.default is param.empty:
            raise SetupError(
                f"handler {describe(handler)} for {where} takes parameter {param.name!r}, "
                "which nothing supplies: it is not a path parameter "
                f"({', '.join(path_params) or 'none'}) "
                "and not the request (name it 'req' or annotate it with Request)"
            )
        if param.kind is param.POSITIONAL_ONLY and sources and sources[-1][1] != "request":
            raise SetupError(
                f"handler {describe(handler)}: path parameters cannot be positional-only"
            )
    if takes_kwargs:
        named = {name for name, _ in sources}
        sources.extend((name, f"path:{name}") for name in path_params if name not in named)
    call = _make_call(handler, signature, sources, tuple(path_params))
    return CallPlan(handler, is_async_callable(handler), tuple(sources), call)


def _make_call(
    handler: Callable[..., Any],
    signature: inspect.Signature,
    sources: list[tuple[str, str]],
    path_params: tuple[str, ...],
) -> Callable[[Request], Any]:
    # PERF: the common shapes get a dedicated closure, made once here: handler(req),
    # handler(), and handler(req, **path params). Anything else goes through a small loop.
    kinds = [kind for _, kind in sources]
    first = next(iter(signature.parameters.values()), None)
    positional_req = first is not None and first.kind in (
        first.POSITIONAL_ONLY,
        first.POSITIONAL_OR_KEYWORD,
    )
    if kinds == ["request"] and positional_req:
        return handler
    if not kinds:
        return lambda req: handler()
    if kinds[0] == "request" and positional_req and all(k.startswith("path:") for k in kinds[1:]):
        names = tuple(name for name, _ in sources[1:])
        params = list(signature.parameters.values())[1 : len(names) + 1]
        positional = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        if names == path_params and positional:
            # PERF: the parameters come in pattern order, so the converted values are
            # passed positionally; no dict is built.
            return lambda req: handler(req, *req._values)
        if set(names) == set(path_params):
            return lambda req: handler(req, **req.path_params)
        return lambda req: handler(req, **{n: req.path_params[n] for n in names})
    plan = [(name, kind[5:] if kind.startswith("path:") else None) for name, kind in sources]

    def call(req: Request) -> Any:
        params = req.path_params
        return handler(**{name: req if key is None else params[key] for name, key in plan})

    return call

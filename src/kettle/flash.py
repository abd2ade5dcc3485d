"""Flash messages: a note left in the session for the next page, shown once.

``flash(req, "Saved.")`` in the handler that redirects; the page after the redirect calls
``get_flashed_messages()`` (a template global, so ``{% for m in get_flashed_messages() %}``
works), which takes the messages out of the session: they survive exactly one redirect.
Messages are JSON text (a ``Markup`` comes back as plain text and is escaped).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

from ._current import get_current_request

if TYPE_CHECKING:
    from .requests import Request

__all__ = ["flash", "get_flashed_messages"]

#: The session key the messages wait under, as ``[[category, message], ...]``.
_SESSION_KEY = "_flashes"
#: Where a request keeps the messages it took, so every call in it sees the same ones.
_TAKEN = "kettle.flashes"


def flash(req: Request, message: str, category: str = "message") -> None:
    """Keep ``message`` for the next request that calls :func:`get_flashed_messages`.

    ``category`` is free text; ``"message"``, ``"info"``, ``"warning"`` and ``"error"`` are
    the usual ones (templates often use it as a CSS class).
    """
    session = req.session
    # A new list rather than an append, so the session sees the change.
    session[_SESSION_KEY] = [*session.get(_SESSION_KEY, ()), [category, message]]


@overload
def get_flashed_messages(
    with_categories: Literal[False] = False,
    category_filter: Iterable[str] | str = (),
    *,
    req: Request | None = None,
) -> list[str]: ...
@overload
def get_flashed_messages(
    with_categories: Literal[True],
    category_filter: Iterable[str] | str = (),
    *,
    req: Request | None = None,
) -> list[tuple[str, str]]: ...
@overload
def get_flashed_messages(
    with_categories: bool,
    category_filter: Iterable[str] | str = (),
    *,
    req: Request | None = None,
) -> list[str] | list[tuple[str, str]]: ...


def get_flashed_messages(
    with_categories: bool = False,
    category_filter: Iterable[str] | str = (),
    *,
    req: Request | None = None,
) -> list[Any]:
    """The flashed messages, oldest first, taken out of the session.

    The first call in a request takes them; later calls in the same request return the
    same messages, and the next request gets none. ``with_categories=True`` gives
    ``(category, message)`` pairs; ``category_filter`` keeps only the categories named.
    ``req`` defaults to the request being served (templates call it without arguments).
    """
    if req is None:
        req = get_current_request()
        if req is None:
            raise RuntimeError(
                "get_flashed_messages() needs a request: call it while serving one, or pass req="
            )
    taken: list[tuple[str, str]] | None = req.scope.get(_TAKEN)
    if taken is None:
        stored = req.session.pop(_SESSION_KEY, None) or ()
        taken = req.scope[_TAKEN] = [(str(category), str(text)) for category, text in stored]
    if category_filter:
        wanted = {category_filter} if isinstance(category_filter, str) else set(category_filter)
        taken = [pair for pair in taken if pair[0] in wanted]
    if with_categories:
        return list(taken)
    return [text for _, text in taken]

"""The HTTPError tree, ``abort()`` and the errors kettle raises at setup time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import NoReturn

__all__ = [
    "BadRequest",
    "ClientDisconnect",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "HTTPError",
    "InternalServerError",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "NotImplementedHTTP",
    "PayloadTooLarge",
    "RequestHeaderFieldsTooLarge",
    "RequestTimeout",
    "RouteConflictError",
    "ServiceUnavailable",
    "SetupError",
    "TooManyRequests",
    "URITooLong",
    "Unauthorized",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "abort",
]


class HTTPError(Exception):
    """An error that becomes an HTTP response with ``status`` and a short ``detail``.

    Raise one (or call :func:`abort`) anywhere in a handler or middleware; the error
    handlers registered with ``@errorhandler(status)`` or ``@errorhandler(HTTPError)``
    turn it into a response, and the default one answers with a small JSON or text body.
    """

    status: int = 500

    def __init__(
        self,
        status: int | None = None,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if status is not None:
            self.status = status
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Error"
        self.detail: str = detail if detail is not None else phrase
        self.headers: dict[str, str] = dict(headers) if headers else {}
        super().__init__(self.status, self.detail)

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, detail={self.detail!r})"


class _FixedStatus(HTTPError):
    """An HTTP error whose class fixes the status: ``NotFound("no such user")``."""

    def __init__(self, detail: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(None, detail, headers)


class BadRequest(_FixedStatus):
    """400: the request is malformed (bad JSON, bad escapes, a bad header)."""

    status = 400


class Unauthorized(_FixedStatus):
    """401: authentication is required."""

    status = 401


class Forbidden(_FixedStatus):
    """403: the client may not do this."""

    status = 403


class NotFound(_FixedStatus):
    """404: no route matches the path."""

    status = 404


class MethodNotAllowed(HTTPError):
    """405: the path exists but not for this method; carries the ``Allow`` header."""

    status = 405

    def __init__(self, allowed: Iterable[str] = (), detail: str | None = None) -> None:
        self.allowed: tuple[str, ...] = tuple(allowed)
        super().__init__(None, detail, {"allow": ", ".join(self.allowed)})


class NotAcceptable(_FixedStatus):
    """406: no representation matches the ``Accept`` header."""

    status = 406


class RequestTimeout(_FixedStatus):
    """408: the client was too slow sending the body."""

    status = 408


class Conflict(_FixedStatus):
    """409: the request conflicts with the current state."""

    status = 409


class PayloadTooLarge(_FixedStatus):
    """413: the body (or a part of a form) is over its limit."""

    status = 413


class URITooLong(_FixedStatus):
    """414: the path or query string is over its limit."""

    status = 414


class UnsupportedMediaType(_FixedStatus):
    """415: the body's content type is not the one the handler reads."""

    status = 415


class UnprocessableEntity(_FixedStatus):
    """422: the body is well-formed but does not validate."""

    status = 422


class TooManyRequests(_FixedStatus):
    """429: a rate limit was hit."""

    status = 429


class RequestHeaderFieldsTooLarge(_FixedStatus):
    """431: too many or too large request headers."""

    status = 431


class InternalServerError(_FixedStatus):
    """500: an unexpected error; the detail never reaches the client outside debug."""

    status = 500


class NotImplementedHTTP(_FixedStatus):
    """501: the method is not one kettle knows."""

    status = 501


class ServiceUnavailable(_FixedStatus):
    """503: the server is overloaded or shutting down."""

    status = 503


_BY_STATUS: dict[int, type[_FixedStatus]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        NotAcceptable,
        RequestTimeout,
        Conflict,
        PayloadTooLarge,
        URITooLong,
        UnsupportedMediaType,
        UnprocessableEntity,
        TooManyRequests,
        RequestHeaderFieldsTooLarge,
        InternalServerError,
        NotImplementedHTTP,
        ServiceUnavailable,
    )
}


def abort(
    status: int, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> NoReturn:
    """Stop handling the request and answer with ``status``.

    ``abort(404)`` raises :class:`NotFound`; statuses without a class of their own raise a
    plain :class:`HTTPError`. ``detail`` is the message the client sees.
    """
    if not 400 <= status <= 599:
        raise ValueError(f"abort() takes an error status (400-599), not {status}")
    cls = _BY_STATUS.get(status)
    if cls is None:
        raise HTTPError(status, detail, headers)
    raise cls(detail, headers)


class ClientDisconnect(Exception):
    """The client went away while the request body was being read."""


class SetupError(RuntimeError):
    """The app was configured wrongly: raised at registration or finalize, never per request."""


class RouteConflictError(SetupError):
    """Two routes can never be told apart (same method, same path shape)."""


class ConfigError(SetupError):
    """A configuration value is missing or invalid; the app refuses to start."""

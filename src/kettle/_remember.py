"""The remember-me cookie of :mod:`kettle.auth`: its settings, signing, reading and sending.

The cookie holds ``[user_id, max_age]`` signed with ``SECRET_KEY`` (itsdangerous, with a
salt of its own so that no other signed value passes for it). What a request asks for —
set the cookie, or delete it — waits on ``req.state`` until the login middleware writes it
onto the response, so ``login_user`` and ``logout_user`` need no response in hand.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from itsdangerous import BadData, URLSafeTimedSerializer

from .exceptions import ConfigError

if TYPE_CHECKING:
    from .config import Config
    from .requests import Request
    from .responses import Response

DEFAULT_REMEMBER_DURATION = 365 * 24 * 3600
_SALT = "kettle.auth.remember"
# req.state attribute: the remember cookie to send, as (value, max_age); "" deletes it.
PENDING = "_kettle_remember"


def to_seconds(key: str, value: Any) -> int:
    """``value`` (a timedelta or a number of seconds) as whole seconds, at least one."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value
    else:
        raise ConfigError(f"{key} must be a timedelta or a number of seconds, got {value!r}")
    if seconds < 1:
        raise ConfigError(f"{key} must be at least one second, got {value!r}")
    return int(seconds)


class RememberCookie:
    """An app's remember-me cookie: its name, default lifetime and signer, read once."""

    __slots__ = ("duration", "name", "serializer")

    def __init__(self, config: Config) -> None:
        self.name = str(config.get("REMEMBER_COOKIE_NAME", "remember_token"))
        self.duration = to_seconds(
            "REMEMBER_COOKIE_DURATION",
            config.get("REMEMBER_COOKIE_DURATION", DEFAULT_REMEMBER_DURATION),
        )
        # Key rotation as for sessions: itsdangerous signs with the last key of the
        # list and verifies with all of them.
        keys = [*(config.get("SECRET_KEY_FALLBACKS") or ()), config.resolve_secret_key()]
        self.serializer = URLSafeTimedSerializer(keys, salt=_SALT)

    def read(self, signed: str) -> str | None:
        """The user id in a cookie value, or ``None`` if it is forged, malformed or old."""
        try:
            payload, signed_at = self.serializer.loads(signed, return_timestamp=True)
        except BadData:
            return None
        if not (
            isinstance(payload, list)
            and len(payload) == 2
            and isinstance(payload[0], str)
            and type(payload[1]) is int
        ):
            return None
        user_id: str = payload[0]
        max_age: int = payload[1]
        # The lifetime travels signed inside the cookie, so a client cannot stretch it by
        # keeping the cookie past its Max-Age.
        if time.time() - signed_at.timestamp() > max_age:
            return None
        return user_id

    def remember(self, req: Request, user_id: str, duration: int | None) -> None:
        """Queue a cookie for ``user_id`` lasting ``duration`` seconds (default: config)."""
        max_age = self.duration if duration is None else duration
        req.state._kettle_remember = (self.serializer.dumps([user_id, max_age]), max_age)

    def forget(self, req: Request) -> None:
        """Queue the cookie's deletion, if the browser has one or one is queued."""
        if self.name in req.cookies or req.state.get(PENDING) is not None:
            self.drop(req)

    @staticmethod
    def drop(req: Request) -> None:
        """Queue the cookie's deletion unconditionally."""
        req.state._kettle_remember = ("", 0)

    def send(self, response: Response, pending: tuple[str, int]) -> None:
        """Write a queued ``(value, max_age)`` onto ``response``; ``""`` deletes it."""
        value, max_age = pending
        if value:
            response.set_cookie(self.name, value, max_age=max_age)
        else:
            response.delete_cookie(self.name)

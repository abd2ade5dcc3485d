"""Redirects to user-supplied targets: ``?next=`` after login, ``return_to`` fields.

A target taken from the request must not send the user to another site (an open
redirect, the phishing tool of choice). :func:`is_safe_url` accepts only a path on this
site, judged the way a browser will read it, and :func:`safe_redirect` falls back to a
known-good URL for anything else::

    @app.post("/login")
    async def login(req):
        ...
        return safe_redirect(req.query.get("next"), fallback=url_for("index"))
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .responses import RedirectResponse

__all__ = ["is_safe_url", "safe_redirect"]

# C0 controls, DEL and C1 controls. Browsers silently drop tab, CR and LF anywhere in a URL
# and strip other leading controls, so "\t//evil" would become "//evil"; refusing them all
# is simpler than modelling every parser.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WEB_SCHEMES = frozenset({"http", "https"})


def is_safe_url(target: str | None, host: str | None = None) -> bool:
    r"""Whether redirecting to ``target`` keeps the user on this site.

    Accepted: an absolute path such as ``/account?tab=keys`` (one leading slash). With
    ``host`` (the site's own, trusted host, ``"example.com"`` or ``"example.com:8443"``),
    also an ``http``/``https`` URL whose host is exactly that one, with no user info.

    Refused, among others: ``//evil.example`` and ``/\evil.example`` (scheme-relative:
    another host; browsers read a backslash as a slash), ``https:evil.example``,
    ``javascript:…``, ``https://ok@evil.example``, relative paths (``evil.example``,
    whose meaning depends on the current page), other hosts, control characters, and
    anything that is not a string.

    Pass ``host`` only when it is trusted (a configured name, or a ``Host`` header
    checked against ``TRUSTED_HOSTS``): a forged ``Host`` must not vouch for itself.
    """
    if not isinstance(target, str) or not target or _CONTROL.search(target):
        return False
    # Judge the URL as a browser will: WHATWG URL parsing treats "\" as "/" in http(s)
    # URLs, so "/\evil" is "//evil". The target itself is not rewritten (the redirect
    # percent-encodes a backslash, leaving it inside the path).
    seen = target.replace("\\", "/")
    if seen[0] == "/":
        return seen[1:2] != "/"
    # A backslash in an absolute URL is refused outright: browsers end the host at it, but
    # the redirect percent-encodes it, and "https://site%5C@evil" has the host "evil".
    if host is None or not seen[0].isalpha() or "\\" in target:
        return False
    try:
        parts = urlsplit(seen)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return False
    return (
        parts.scheme.lower() in _WEB_SCHEMES
        and "@" not in parts.netloc
        and parts.netloc.lower() == host.lower()
    )


def safe_redirect(
    target: str | None,
    fallback: str = "/",
    *,
    host: str | None = None,
    status: int = 303,
) -> RedirectResponse:
    """A redirect to ``target`` when :func:`is_safe_url` accepts it, else to ``fallback``.

    ``fallback`` is the app's own choice and is not checked. The status defaults to 303
    (See Other): the browser follows it with a GET whatever the method of the request
    was, which is what a redirect after a login form wants. The response's HTML body
    escapes the URL.
    """
    location = target if target is not None and is_safe_url(target, host) else fallback
    return RedirectResponse(location, status)

"""Trusted hosts: every request's ``Host`` is well-formed, and on the allow-list if one is set.

An app builds absolute URLs from the ``Host`` header (``url_for(..., _external=True)``,
password-reset links, redirects, the CSRF origin check), so a forged host turns into links
to the attacker's site. kettle refuses a malformed ``Host`` (``a@b``, ``x:99999``, spaces,
slashes) on every request with a 400, before routing, and with ``TRUSTED_HOSTS`` set it
refuses every host not on the list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..exceptions import ConfigError

__all__ = ["TrustedHosts", "valid_host"]

# A DNS name (letters, digits, '-', '_', dots, a trailing dot allowed) or a bracketed IPv6
# literal, then an optional port. Percent escapes and RFC 3986's sub-delims are legal in a
# reg-name but no real host uses them, and '@' ',' ';' are how forged hosts smuggle a
# second name past lax parsers.
_HOST = re.compile(
    rb"(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::(\d{1,5}))?"
)
#: How many distinct good hosts are remembered; an attacker spraying hosts cannot grow it.
_CACHE_SIZE = 64


def valid_host(host: bytes) -> bool:
    """Whether ``host`` (a ``Host`` header value) is a well-formed ``name[:port]``."""
    match = _HOST.fullmatch(host)
    if match is None or b".." in host:
        return False
    port = match[1]
    return port is None or 0 < int(port) <= 65535


def _split(host: str) -> tuple[str, int | None]:
    """``host`` (well-formed, lower-case) as its name without a trailing dot, and its port."""
    if host.startswith("["):
        name, _, rest = host.partition("]")
        name += "]"
        port = rest[1:] if rest else None
    else:
        name, colon, port = host.partition(":")
        port = port if colon else None
    return name.rstrip("."), None if port is None else int(port)


def _pattern(entry: str) -> str:
    text = entry.strip().lower()
    if text == "*":
        return text
    domain = text.startswith(".")
    name = text[1:] if domain else text
    if (
        not name
        or not valid_host(name.encode("ascii", "replace"))
        or (domain and _split(name)[1] is not None)
    ):
        raise ConfigError(
            f"TRUSTED_HOSTS: {entry!r} is not a host name ('example.com', 'example.com:8080', "
            "'.example.com' for the domain and its subdomains, or '*')"
        )
    return text


class TrustedHosts:
    """The ``Host`` check the server adapters run before routing.

    ``hosts`` is ``None`` (any well-formed host) or the allowed values: ``example.com``
    (that host, any port), ``example.com:8080`` (that host and port), ``.example.com``
    (the domain and every subdomain), ``*`` (any well-formed host).
    """

    __slots__ = ("_exact", "_ports", "_suffixes", "_wildcard", "known")

    def __init__(self, hosts: Iterable[str] | None = None) -> None:
        patterns = None if hosts is None else [_pattern(entry) for entry in hosts]
        self._wildcard = patterns is None or "*" in patterns
        names = [_split(p) for p in patterns or () if p != "*" and not p.startswith(".")]
        self._exact = frozenset(name for name, port in names if port is None)
        self._ports = frozenset((name, port) for name, port in names if port is not None)
        self._suffixes = tuple(p.rstrip(".") for p in patterns or () if p.startswith("."))
        # PERF: a site sees a handful of Host values; a dict hit skips the regex.
        self.known: dict[bytes, None] = {}

    def refusal(self, host: bytes) -> str | None:
        """``None`` when ``host`` may be served, else the reason for the 400."""
        if host in self.known:
            return None
        if not valid_host(host):
            return "invalid Host header"
        if not self._wildcard and not self._allowed(host.decode("ascii").lower()):
            return "Host not allowed"
        if len(self.known) < _CACHE_SIZE:
            self.known[host] = None
        return None

    def _allowed(self, host: str) -> bool:
        name, port = _split(host)
        if name in self._exact or (name, port) in self._ports:
            return True
        return any(name == suffix[1:] or name.endswith(suffix) for suffix in self._suffixes)

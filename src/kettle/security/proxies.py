"""Proxy trust: believe ``Forwarded`` / ``X-Forwarded-*`` only from the proxies you name.

Behind a load balancer the socket's peer is the proxy, not the client, and the scheme is
what the proxy spoke to kettle. Proxies say who the client was in ``Forwarded`` (RFC 7239)
or ``X-Forwarded-For``/``-Proto``/``-Host``, but anyone can send those headers, so kettle
believes them only from a configured peer — as Express's ``trust proxy``, off by default:

* ``TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]``: the peer must be one of these; the
  forwarded chain is walked from the right, past every address that is itself a trusted
  proxy, and the first other address is the client.
* ``PROXY_HOPS = 2``: exactly that many proxies stand in front, whatever their addresses;
  the client is the address the outermost one saw.

``PROXY_HEADERS`` says which headers the proxies set: ``"x-forwarded"`` (the default, what
nginx, HAProxy and most load balancers send) or ``"forwarded"`` (RFC 7239). The other
family is ignored, since a proxy passes it on from the client as it came.

The scheme and host come from the same outermost trusted proxy. The request's scope is
rewritten once, before routing, so ``req.client``, ``req.scheme``, ``req.host``,
``req.url`` and everything built on them (external URLs, HSTS, Secure cookies, the CSRF
origin check) see the client's view. Nothing runs when neither setting is set.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, MutableMapping
from typing import Any

from ..exceptions import ConfigError

__all__ = ["ProxyTrust"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_SCHEMES = frozenset(("http", "https"))
_FAMILIES = frozenset(("x-forwarded", "forwarded"))


def _network(entry: str) -> Network | None:
    if entry.strip() == "*":
        return None
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        raise ConfigError(
            f"TRUSTED_PROXIES: {entry!r} is not an IP address or network "
            "(e.g. '127.0.0.1', '10.0.0.0/8', '::1', or '*' for any peer)"
        ) from None


def _address(text: str) -> str | None:
    """The IP in a forwarded ``for`` value (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``)."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; match them as IPv4.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip)


def _split(value: bytes) -> list[str]:
    return [part.strip() for part in value.decode("latin-1").split(",")]


def _forwarded(value: bytes) -> tuple[list[str], list[str], list[str]]:
    """RFC 7239 elements as parallel lists of ``for``, ``proto`` and ``host`` (``""`` if absent)."""
    fors: list[str] = []
    protos: list[str] = []
    hosts: list[str] = []
    for element in _split(value):
        pairs = dict(
            (key.strip().lower(), val.strip().strip('"'))
            for key, _, val in (pair.partition("=") for pair in element.split(";"))
        )
        fors.append(pairs.get("for", ""))
        protos.append(pairs.get("proto", ""))
        hosts.append(pairs.get("host", ""))
    return fors, protos, hosts


class ProxyTrust:
    """Rewrites a request scope from the forwarding headers of trusted proxies."""

    __slots__ = ("_any", "_hops", "_networks", "_rfc7239")

    def __init__(
        self, proxies: Iterable[str] = (), hops: int = 0, headers: str = "x-forwarded"
    ) -> None:
        nets = [_network(entry) for entry in proxies]
        self._any = None in nets
        self._networks = tuple(net for net in nets if net is not None)
        if hops < 0:
            raise ConfigError(f"PROXY_HOPS must be 0 or more, got {hops}")
        self._hops = hops
        # One family only: a proxy that sets one passes the other on from the client
        # untouched, and believing it would let the client forge its own address.
        if headers not in _FAMILIES:
            raise ConfigError(
                f"PROXY_HEADERS must be 'x-forwarded' or 'forwarded', got {headers!r}"
            )
        self._rfc7239 = headers == "forwarded"

    @property
    def enabled(self) -> bool:
        """Whether any proxy is trusted at all."""
        return bool(self._any or self._networks or self._hops)

    def _trusted(self, address: str | None) -> bool:
        if self._any:
            return True  # "*": any peer, a Unix socket's (no address) included
        if address is None:
            return False
        ip = ipaddress.ip_address(address)
        return any(ip in net for net in self._networks)

    def apply(self, scope: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """The scope as the client saw the request, or ``scope`` itself if nothing applies."""
        peer = scope.get("client")
        peer_ip = _address(peer[0]) if peer else None
        if not self._hops and not self._trusted(peer_ip):
            return scope
        forwarded = xff = proto = xhost = None
        # Repeated lines of a list header are one comma-separated list (RFC 9110, 5.3).
        for name, value in scope["headers"]:
            if name == b"forwarded":
                forwarded = value if forwarded is None else forwarded + b", " + value
            elif name == b"x-forwarded-for":
                xff = value if xff is None else xff + b", " + value
            elif name == b"x-forwarded-proto":
                proto = value if proto is None else proto + b", " + value
            elif name == b"x-forwarded-host":
                xhost = value if xhost is None else xhost + b", " + value
        if self._rfc7239:
            if forwarded is None:
                return scope
            fors, protos, hosts = _forwarded(forwarded)
        elif xff is not None or proto is not None or xhost is not None:
            fors = _split(xff) if xff is not None else []
            protos = _split(proto) if proto is not None else []
            hosts = _split(xhost) if xhost is not None else []
        else:
            return scope
        client, hops = self._client(fors)
        changes: dict[str, Any] = {}
        if client is not None:
            changes["client"] = (client, 0)
        scheme = _outermost(protos, hops).lower()
        if scheme in _SCHEMES:
            changes["scheme"] = scheme
        host = _outermost(hosts, hops)
        if host:
            encoded = host.encode("latin-1")
            changes["headers"] = [(b"host", encoded)] + [
                pair for pair in scope["headers"] if pair[0] != b"host"
            ]
        return {**scope, **changes} if changes else scope

    def _client(self, fors: list[str]) -> tuple[str | None, int]:
        """The client address and how many proxies (the peer included) vouched for it."""
        if self._hops:
            # The outermost of ``hops`` proxies appended the address it saw.
            if len(fors) < self._hops:
                return (_address(fors[0]) if fors else None), len(fors)
            return _address(fors[-self._hops]), self._hops
        hops = 1
        for raw in reversed(fors):
            address = _address(raw)
            if address is None:
                return None, hops
            if not self._trusted(address):
                return address, hops
            hops += 1
        # Every hop was a trusted proxy: the leftmost one is as far as anyone can tell.
        return (_address(fors[0]) if fors else None), hops - 1


def _outermost(values: list[str], hops: int) -> str:
    """The value the outermost trusted proxy wrote (one per hop, appended left to right)."""
    if not values:
        return ""
    # At least the trusted peer itself wrote one (a Proto or Host without any For).
    return values[max(len(values) - max(hops, 1), 0)]

"""Turn an app's security settings into the objects its server adapters use per request.

Called once by ``Kettle.finalize``: everything here is decided at startup, so a request
pays only for what is switched on (a header block to extend, a dict hit for the host).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import SetupError
from .hosts import TrustedHosts
from .proxies import ProxyTrust

if TYPE_CHECKING:
    from ..app import Kettle

__all__ = ["install_security"]


def install_security(app: Kettle) -> None:
    """Resolve ``app.security_headers``, ``app.csrf``, trusted hosts and proxies."""
    config = app.config
    headers = app.security_headers
    if headers is None:
        if config["SECURITY_HEADERS"]:
            from .headers import SecurityHeaders

            headers = app.security_headers = SecurityHeaders()
        else:
            headers = app.security_headers = False
    if headers is False:
        app._security_headers = None
        app._api_headers = None
    else:
        if not callable(getattr(headers, "dress", None)):
            raise SetupError(
                f"app.security_headers must be a SecurityHeaders, None or False, not {headers!r}"
            )
        app._security_headers = headers
        app._api_headers = (
            headers.header_block(html=False, https=False),
            headers.header_block(html=False, https=True),
        )
    csrf = app.csrf
    if csrf is None:
        if config["CSRF_PROTECTION"]:
            from .csrf import CSRFProtection

            csrf = app.csrf = CSRFProtection.from_config(config)
        else:
            csrf = app.csrf = False
    if csrf is not False and not callable(getattr(csrf, "rejection", None)):
        raise SetupError(f"app.csrf must be a CSRFProtection, None or False, not {csrf!r}")
    app._csrf_protection = None if csrf is False else csrf
    hosts = TrustedHosts(config["TRUSTED_HOSTS"])
    app._hosts = hosts
    app._known_hosts = hosts.known
    proxies = ProxyTrust(config["TRUSTED_PROXIES"], config["PROXY_HOPS"], config["PROXY_HEADERS"])
    app._proxies = proxies if proxies.enabled else None
    _close_stores_at_shutdown(app)


def _close_stores_at_shutdown(app: Kettle) -> None:
    """Register the ``close`` of every rate limiter used anywhere in the app's tree, so a
    Redis store's connections are released with the server (once per store).
    """
    from ..routing import Router
    from .ratelimit import RateLimit

    stores: dict[int, RateLimit] = {}
    routers: list[Router] = [app]
    while routers:
        router = routers.pop()
        candidates = [mw for _, mw in router.middleware]
        candidates += [mw for route in router.routes for mw in route.middleware]
        for mw in candidates:
            if isinstance(mw, RateLimit):
                stores.setdefault(id(mw.store), mw)
        routers += [target for _, target in router.mounts if isinstance(target, Router)]
    app._shutdown += [limiter.close for limiter in stores.values()]

"""kettle's security features: security headers (and, with issue 4, CSRF, CORS, hosts)."""

from .headers import DEFAULT_API_HEADERS, DEFAULT_CSP, SecurityHeaders, security_headers

__all__ = ["DEFAULT_API_HEADERS", "DEFAULT_CSP", "SecurityHeaders", "security_headers"]

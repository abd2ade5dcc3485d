"""kettle's security features: headers, CSRF, hosts and proxies (on by default), CORS and
rate limits (opt in).
"""

from ..redirects import is_safe_url, safe_redirect
from .cors import CORS
from .csrf import CSRFProtection, csrf_token
from .headers import DEFAULT_API_HEADERS, DEFAULT_CSP, SecurityHeaders, security_headers
from .hosts import TrustedHosts
from .proxies import ProxyTrust
from .ratelimit import MemoryStore, RateLimit, RateLimitStore, RedisStore

__all__ = [
    "CORS",
    "DEFAULT_API_HEADERS",
    "DEFAULT_CSP",
    "CSRFProtection",
    "MemoryStore",
    "ProxyTrust",
    "RateLimit",
    "RateLimitStore",
    "RedisStore",
    "SecurityHeaders",
    "TrustedHosts",
    "csrf_token",
    "is_safe_url",
    "safe_redirect",
    "security_headers",
]

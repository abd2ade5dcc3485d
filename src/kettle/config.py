"""``Config``: kettle's settings, their defaults, and loading them from env, objects and TOML."""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import secrets
import tomllib
import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .exceptions import ConfigError

__all__ = ["DEFAULTS", "Config", "KettleWarning", "parse_size"]

_MiB = 1024 * 1024

DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "DEBUG": False,
        "TESTING": False,
        "SECRET_KEY": None,
        "MAX_BODY_SIZE": _MiB,
        "MAX_QUERY_PARAMS": 1000,
        "MAX_FORM_FIELDS": 1000,
        "MAX_FORM_FILES": 1000,
        "MAX_FORM_PART_SIZE": _MiB,
        "FORM_SPOOL_THRESHOLD": _MiB,
        "MAX_PATH_LENGTH": 8192,
        "MAX_HEADERS": 100,
        "MAX_HEADER_SIZE": 64 * 1024,
        "THREAD_POOL_SIZE": 40,
        "STRICT_SLASHES": False,
        "SERVER_NAME": None,
        "PREFERRED_URL_SCHEME": "http",
        "SECRET_KEY_FALLBACKS": (),
        "SESSION_BACKEND": "cookie",
        "SESSION_COOKIE_NAME": "session",
        "SESSION_COOKIE_SECURE": None,
        "SESSION_COOKIE_SAMESITE": "lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_PATH": "/",
        "PERMANENT_SESSION_LIFETIME": 31 * 24 * 3600,
        "SESSION_REFRESH_EACH_REQUEST": True,
        "SESSION_REDIS_URL": "redis://127.0.0.1:6379/0",
        "SESSION_REDIS_PREFIX": "kettle:session:",
        "BODY_TIMEOUT": 30.0,
        "SECURITY_HEADERS": True,
        "CSRF_PROTECTION": True,
        "CSRF_TRUSTED_ORIGINS": (),
        "CSRF_EXEMPT": (),
        "CSRF_TOKENS": False,
        "TRUSTED_HOSTS": None,
        "TRUSTED_PROXIES": (),
        "PROXY_HOPS": 0,
        "PROXY_HEADERS": "x-forwarded",
        "GC_FREEZE": True,
    }
)
"""kettle's built-in settings and their default values (read-only)."""

_MIN_SECRET_KEY_LENGTH = 16
_SECRET_KEY_HELP = (
    "set KETTLE_SECRET_KEY or app.config['SECRET_KEY']; generate one with "
    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
)


class KettleWarning(UserWarning):
    """A setting works, but probably not the way you want (e.g. an ephemeral secret key)."""


# Units are matched lower-cased. Explicit SI (KB) and IEC (KiB) spellings mean what the
# standards say; the bare letters follow the common config-file convention (nginx, JVM
# flags), where ``512k`` means 512 * 1024.
_UNITS: Mapping[str, int] = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)")


def parse_size(value: str | int) -> int:
    """Return a size in bytes from an int or a human spelling such as ``"10MB"``.

    Accepted: a non-negative ``int``; a string of digits; or a number (decimals allowed)
    followed by an optional unit, with or without a space between them. Units are
    case-insensitive:

    * ``B`` — bytes;
    * ``KB``, ``MB``, ``GB`` — powers of 1000 (``"10MB"`` is 10,000,000);
    * ``KiB``, ``MiB``, ``GiB`` — powers of 1024 (``"1 MiB"`` is 1,048,576);
    * ``k``, ``m``, ``g`` — shorthand for KiB, MiB, GiB (``"512k"`` is 524,288).

    A fraction of a byte is dropped (``"1.1k"`` is 1126). Anything else — a negative
    number, an empty string, an unknown unit, trailing text — raises
    :class:`~kettle.exceptions.ConfigError` naming the value.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(f"invalid size {value!r}: a size cannot be negative")
        return value
    if isinstance(value, str):
        match = _SIZE_RE.fullmatch(value.strip().lower())
        if match is not None and match[2] in _UNITS:
            # Decimal keeps "1.5GB" exact; float would give 1499999999.9999998.
            return int(Decimal(match[1]) * _UNITS[match[2]])
    raise ConfigError(
        f"invalid size {value!r}: expected a number of bytes with an optional unit "
        "(B, KB, MB, GB, KiB, MiB, GiB, k, m, g), e.g. '10MB' or '512k'"
    )


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _to_bool(label: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ConfigError(f"{label} must be a boolean (1/0, true/false, yes/no, on/off), got {value!r}")


def _to_count(minimum: int) -> Callable[[str, Any], int]:
    def coerce(label: str, value: Any) -> int:
        result: int | None = None
        # bool is an int subclass; DEBUG-style True in a count is always a mistake.
        if isinstance(value, int) and not isinstance(value, bool):
            result = value
        elif isinstance(value, str):
            try:
                result = int(value.strip())
            except ValueError:
                result = None
        if result is None:
            raise ConfigError(f"{label} must be an integer, got {value!r}")
        if result < minimum:
            raise ConfigError(f"{label} must be at least {minimum}, got {result}")
        return result

    return coerce


def _to_size(label: str, value: Any) -> int:
    if isinstance(value, str | int):
        try:
            return parse_size(value)
        except ConfigError as exc:
            raise ConfigError(f"{label}: {exc}") from None
    raise ConfigError(f"{label} must be a size in bytes (int or e.g. '10MB'), got {value!r}")


def _to_seconds(label: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip().removesuffix("s"))
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{label} must be a number of seconds above 0 (or None), got {value!r}")
    return seconds


def _to_strings(label: str, value: Any) -> tuple[str, ...]:
    # Env values arrive as one string: "a.example, b.example" (or a JSON/TOML list).
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = _literal(text)
        else:
            return tuple(part.strip() for part in text.split(",") if part.strip())
    if isinstance(value, list | tuple | set | frozenset) and all(
        isinstance(item, str) for item in value
    ):
        return tuple(value)
    raise ConfigError(f"{label} must be a list of strings (or 'a, b' text), got {value!r}")


def _to_optional_strings(label: str, value: Any) -> tuple[str, ...] | None:
    return None if value is None else _to_strings(label, value)


def _to_proxy_headers(label: str, value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in ("x-forwarded", "forwarded"):
        return value.strip().lower()
    raise ConfigError(f"{label} must be 'x-forwarded' or 'forwarded', got {value!r}")


def _to_optional_str(label: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(f"{label} must be a string, got {type(value).__name__}")


def _to_scheme(label: str, value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in ("http", "https"):
        return value.strip().lower()
    raise ConfigError(f"{label} must be 'http' or 'https', got {value!r}")


# One coercer per known key: validate() runs them over the config's values, from_env() over
# raw environment strings, so both accept exactly the same spellings.
_COERCERS: Mapping[str, Callable[[str, Any], Any]] = {
    "DEBUG": _to_bool,
    "TESTING": _to_bool,
    "SECRET_KEY": _to_optional_str,
    "MAX_BODY_SIZE": _to_size,
    "MAX_QUERY_PARAMS": _to_count(0),
    "MAX_FORM_FIELDS": _to_count(0),
    "MAX_FORM_FILES": _to_count(0),
    "MAX_FORM_PART_SIZE": _to_size,
    "FORM_SPOOL_THRESHOLD": _to_size,
    "MAX_PATH_LENGTH": _to_count(1),
    "MAX_HEADERS": _to_count(1),
    "MAX_HEADER_SIZE": _to_size,
    "THREAD_POOL_SIZE": _to_count(1),
    "STRICT_SLASHES": _to_bool,
    "SERVER_NAME": _to_optional_str,
    "PREFERRED_URL_SCHEME": _to_scheme,
    "BODY_TIMEOUT": _to_seconds,
    "SECURITY_HEADERS": _to_bool,
    "CSRF_PROTECTION": _to_bool,
    "CSRF_TRUSTED_ORIGINS": _to_strings,
    "CSRF_EXEMPT": _to_strings,
    "CSRF_TOKENS": _to_bool,
    "TRUSTED_HOSTS": _to_optional_strings,
    "TRUSTED_PROXIES": _to_strings,
    "PROXY_HOPS": _to_count(0),
    "PROXY_HEADERS": _to_proxy_headers,
    "GC_FREEZE": _to_bool,
}


def _is_key(name: object) -> bool:
    return isinstance(name, str) and name.isupper() and not name.startswith("_")


def _literal(text: str) -> Any:
    """Read an env value for a key kettle does not know: a TOML/JSON literal, else text."""
    for parse in (lambda s: tomllib.loads(f"v = {s}")["v"], json.loads):
        try:
            value = parse(text)
        except ValueError:  # TOMLDecodeError and JSONDecodeError are both ValueErrors
            continue
        # Only plain data: a TOML date or a JSON null would surprise more than help.
        if isinstance(value, float) and not math.isfinite(value):
            continue  # "inf" or "nan" is far likelier meant as a word than a number
        if isinstance(value, int | float | bool | list | dict):
            return value
    return text


def _masked(key: str) -> bool:
    return "SECRET" in key or "PASSWORD" in key or key.endswith(("_TOKEN", "_KEY"))


class Config(dict[str, Any]):
    """kettle's settings: a ``dict`` of UPPERCASE keys, pre-filled with the defaults below.

    ``app.config`` is one of these. Read and write it as a dict; the ``from_*`` methods
    load more settings, and :meth:`validate` (run when the app is finalized) checks the
    known keys and normalises their values, so ``config["MAX_BODY_SIZE"] = "10MB"`` is
    fine to write.

    ========================  ==========  ================================================
    Key                       Default     Meaning
    ========================  ==========  ================================================
    ``DEBUG``                 ``False``   Debug mode: tracebacks in error pages, warnings.
    ``TESTING``               ``False``   Test mode, for test suites and extensions.
    ``SECRET_KEY``            ``None``    Key for signed cookies and sessions (str, at
                                          least 16 characters outside debug/testing).
    ``MAX_BODY_SIZE``         1 MiB       App-wide request body limit, in bytes.
    ``MAX_QUERY_PARAMS``      1000        Most query-string parameters parsed.
    ``MAX_FORM_FIELDS``       1000        Most non-file fields in one form.
    ``MAX_FORM_FILES``        1000        Most file parts in one multipart form.
    ``MAX_FORM_PART_SIZE``    1 MiB       Largest non-file form field, in bytes.
    ``FORM_SPOOL_THRESHOLD``  1 MiB       Uploads larger than this go to a temp file.
    ``MAX_PATH_LENGTH``       8192        Longest request path accepted (414 beyond).
    ``MAX_HEADERS``           100         Most request headers (431 beyond).
    ``MAX_HEADER_SIZE``       64 KiB      Most bytes of header names and values (431).
    ``THREAD_POOL_SIZE``      40          Worker threads running plain ``def`` handlers.
    ``STRICT_SLASHES``        ``False``   If true, a trailing slash must match the route's
                                          exactly (``/a/`` is not ``/a``).
    ``SERVER_NAME``           ``None``    Host (``example.com:8080``) for
                                          ``url_for(..., _external=True)`` outside a request.
    ``PREFERRED_URL_SCHEME``  ``"http"``  Scheme of external URLs built outside a request.
    ``SECRET_KEY_FALLBACKS``  ``()``      Older keys: they still verify, the newest signs.
    ``SESSION_BACKEND``       ``cookie``  ``cookie``, ``memory``, ``redis`` or ``none``.
    ``SESSION_COOKIE_NAME``   session     Name of the session cookie.
    ``SESSION_COOKIE_SECURE`` ``None``    Secure flag; ``None``: set it on https.
    ``SESSION_COOKIE_SAMESITE`` lax       SameSite of the session cookie.
    ``SESSION_COOKIE_HTTPONLY`` ``True``  HttpOnly on the session cookie.
    ``SESSION_COOKIE_DOMAIN`` ``None``    Domain of the session cookie.
    ``SESSION_COOKIE_PATH``   ``"/"``     Path of the session cookie.
    ``PERMANENT_SESSION_LIFETIME`` 31 d   Max age of a session, in seconds.
    ``SESSION_REFRESH_EACH_REQUEST`` yes  Re-send permanent sessions on every request.
    ``SESSION_REDIS_URL``     local       Redis for ``SESSION_BACKEND="redis"``.
    ``SESSION_REDIS_PREFIX``  kettle:…    Prefix of session keys in Redis.
    ``BODY_TIMEOUT``          30 s        How long the client may take to send the whole
                                          body, counting only time spent waiting for it
                                          (408 beyond); ``None``: no deadline.
    ``SECURITY_HEADERS``      ``True``    Helmet's headers on HTML, the OWASP API set on
                                          the rest (``app.security_headers`` to tune).
    ``CSRF_PROTECTION``       ``True``    Refuse cross-site unsafe requests (Fetch
                                          Metadata and Origin).
    ``CSRF_TRUSTED_ORIGINS``  ``()``      Exact origins allowed to post cross-site.
    ``CSRF_EXEMPT``           ``()``      Exact paths or route patterns not checked.
    ``CSRF_TOKENS``           ``False``   Also require a synchronizer token.
    ``TRUSTED_HOSTS``         ``None``    Allowed ``Host`` values (``.example.com``: the
                                          domain and its subdomains); ``None``: any
                                          well-formed host.
    ``TRUSTED_PROXIES``       ``()``      Proxy addresses/networks whose ``Forwarded`` /
                                          ``X-Forwarded-*`` headers are believed.
    ``PROXY_HOPS``            ``0``       Or: how many proxies stand in front (their
                                          headers are believed whatever the peer).
    ``PROXY_HEADERS``         x-forwarded Which headers proxies set: ``x-forwarded``
                                          (``X-Forwarded-*``) or ``forwarded`` (RFC 7239).
    ``GC_FREEZE``             ``True``    After startup under a server, exclude what is
                                          alive from the garbage collector's walks
                                          (``gc.freeze``; not under the test clients).
    ========================  ==========  ================================================

    Sizes accept what :func:`parse_size` accepts. ``defaults`` replaces built-in defaults
    for the keys it names (extensions use it to add theirs); ``overrides`` are applied last::

        config = Config(DEBUG=True)
        config.from_env()                      # KETTLE_MAX_BODY_SIZE=10MB ...
        config.validate()
    """

    def __init__(self, defaults: Mapping[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(DEFAULTS)
        for source in (defaults or {}, overrides):
            bad = [key for key in source if not _is_key(key)]
            if bad:
                raise ConfigError(f"config keys are UPPERCASE; got {', '.join(map(repr, bad))}")
            self.update(source)

    def __repr__(self) -> str:
        # Configs end up in logs and debug pages; never print a secret in full.
        shown = {k: "***" if _masked(k) and v else v for k, v in self.items()}
        return f"{type(self).__name__}({shown!r})"

    def copy(self) -> Config:
        """Return a shallow copy that is still a :class:`Config`."""
        new = type(self)()
        new.clear()
        new.update(self)
        return new

    def from_mapping(self, mapping: Mapping[str, Any]) -> int:
        """Update from ``mapping``, taking only its UPPERCASE keys; return how many."""
        taken = {key: value for key, value in mapping.items() if _is_key(key)}
        self.update(taken)
        return len(taken)

    def from_object(self, obj: object | str) -> int:
        """Update from the UPPERCASE attributes of ``obj``; return how many were taken.

        ``obj`` is a module, a class or any object — or an import string for one:
        ``"myapp.settings"``, ``"myapp.settings:Production"`` or
        ``"myapp.settings.Production"``. A string that cannot be imported raises
        :class:`~kettle.exceptions.ConfigError`.
        """
        if isinstance(obj, str):
            obj = _import_string(obj)
        return self.from_mapping({name: getattr(obj, name) for name in dir(obj)})

    def from_env(self, prefix: str = "KETTLE_", environ: Mapping[str, str] | None = None) -> int:
        """Load ``{prefix}NAME`` environment variables as ``NAME``; return how many.

        ``environ`` defaults to ``os.environ``. Values of known keys are coerced like
        :meth:`validate` does: booleans from ``1/0``, ``true/false``, ``yes/no``,
        ``on/off`` (any case); counts from integers; sizes from :func:`parse_size`
        spellings (``KETTLE_MAX_BODY_SIZE=10MB``). A bad value raises
        :class:`~kettle.exceptions.ConfigError` naming the variable. Values of other keys
        are read as a TOML or JSON literal when they are one (``42``, ``1.5``, ``true``,
        ``["a", "b"]``) and kept as strings otherwise. Only names that are UPPERCASE
        after the prefix are read.
        """
        env = os.environ if environ is None else environ
        loaded = 0
        for var, raw in env.items():
            if not var.startswith(prefix) or not _is_key(key := var[len(prefix) :]):
                continue
            coerce = _COERCERS.get(key)
            self[key] = coerce(var, raw) if coerce else _literal(raw)
            loaded += 1
        return loaded

    def from_toml(self, path: str | os.PathLike[str], *, section: str | None = None) -> int:
        """Load settings from a TOML file; return how many keys were taken.

        Keys may be written in any case (TOML's convention is lower case) and are
        upper-cased: ``max_body_size = "10MB"`` sets ``MAX_BODY_SIZE``. ``section``
        reads one table instead of the whole file, with dots for nesting
        (``section="tool.kettle"`` in a ``pyproject.toml``). A missing file, bad TOML,
        a missing section or a key that is not an identifier raises
        :class:`~kettle.exceptions.ConfigError` naming the file.
        """
        file = Path(path)
        try:
            with file.open("rb") as fp:
                data: Any = tomllib.load(fp)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {file}") from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {file}: {exc}") from None
        for part in section.split(".") if section else ():
            data = data.get(part) if isinstance(data, dict) else None
            if not isinstance(data, dict):
                raise ConfigError(f"config file {file} has no [{section}] table")
        bad = [key for key in data if not key.upper().isidentifier()]
        if bad:
            raise ConfigError(f"config file {file}: invalid key(s) {', '.join(map(repr, bad))}")
        self.update({key.upper(): value for key, value in data.items()})
        return len(data)

    def validate(self) -> None:
        """Check and normalise every known key in place.

        Strings become the type of the default (``"10MB"`` becomes ``10000000``,
        ``"yes"`` becomes ``True``), a known key that was deleted gets its default back,
        and a value of the wrong type or out of range raises
        :class:`~kettle.exceptions.ConfigError` naming the key. Unknown keys are left alone.
        """
        for key, coerce in _COERCERS.items():
            self[key] = coerce(key, self.get(key, DEFAULTS[key]))

    def resolve_secret_key(self) -> str:
        """Return ``SECRET_KEY``, making up a throwaway one in debug and testing.

        With no key set (``None`` or empty): under ``DEBUG`` or ``TESTING`` a random key
        is generated and stored, so later calls return the same one; under ``DEBUG``
        alone this warns (:class:`KettleWarning`) that sessions will not survive a
        restart. Otherwise — production — a missing key, or one shorter than 16
        characters, raises :class:`~kettle.exceptions.ConfigError`.
        """
        key = _to_optional_str("SECRET_KEY", self.get("SECRET_KEY"))
        debug = _to_bool("DEBUG", self.get("DEBUG", False))
        testing = _to_bool("TESTING", self.get("TESTING", False))
        if key:
            if len(key) < _MIN_SECRET_KEY_LENGTH and not (debug or testing):
                raise ConfigError(
                    f"SECRET_KEY is too short ({len(key)} characters, need at least "
                    f"{_MIN_SECRET_KEY_LENGTH}): {_SECRET_KEY_HELP}"
                )
            return key
        if not (debug or testing):
            raise ConfigError(f"SECRET_KEY is not set: {_SECRET_KEY_HELP}")
        key = self["SECRET_KEY"] = secrets.token_urlsafe(32)
        if debug and not testing:
            warnings.warn(
                "SECRET_KEY is not set; using a random key for this process only, so "
                "sessions and signed cookies will not survive a restart",
                KettleWarning,
                stacklevel=2,
            )
        return key


def _import_string(target: str) -> object:
    """Import ``"pkg.mod"``, ``"pkg.mod:attr"`` or ``"pkg.mod.attr"``."""
    module_name, _, attr = target.partition(":")
    try:
        if not attr:
            try:
                return importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                # "pkg.mod.attr": only fall back when it is the last part that is missing.
                if "." not in module_name or exc.name != module_name:
                    raise
                module_name, _, attr = module_name.rpartition(".")
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import config object {target!r}: {exc}") from None

"""``url_for``: build a route's URL from its name and parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from ._current import get_current_request
from .converters import Converter, Segment
from .exceptions import SetupError

if TYPE_CHECKING:
    from .requests import Request

__all__ = ["BuildError", "UrlRule", "url_for"]


class BuildError(LookupError):
    """No route of that name can be built with the given parameters."""


class UrlRule:
    """The compiled form of one route for building its URL."""

    __slots__ = ("converters", "names", "path", "segments")

    def __init__(
        self, path: str, segments: tuple[Segment, ...], converters: Mapping[str, Converter]
    ):
        self.path = path
        self.segments = segments
        self.converters = dict(converters)
        self.names = frozenset(converters)

    def build(self, params: Mapping[str, Any]) -> str:
        """The path with ``params`` filled in; the other params become the query string."""
        parts: list[str] = []
        for seg in self.segments:
            if seg.text is not None:
                parts.append(quote(seg.text, safe=""))
                continue
            name = seg.name or ""
            converter = self.converters[name]
            text = converter.to_url(params[name])
            parts.append(quote(text, safe="/" if converter.consumes_rest else ""))
        path = "/" + "/".join(parts)
        extra = [(k, v) for k, v in params.items() if k not in self.names and v is not None]
        if extra:
            pairs: list[tuple[str, Any]] = []
            for key, value in extra:
                if isinstance(value, list | tuple):
                    pairs.extend((key, item) for item in value)
                else:
                    pairs.append((key, value))
            path += "?" + urlencode(pairs)
        return path


def build_url(
    rules: Mapping[str, list[UrlRule]],
    name: str,
    params: dict[str, Any],
    *,
    request: Request | None,
    server_name: str | None,
    default_scheme: str,
) -> str:
    """Find the rule called ``name`` and build it (the engine of :func:`url_for`)."""
    external = bool(params.pop("_external", False))
    anchor = params.pop("_anchor", None)
    scheme = params.pop("_scheme", None)
    if name.startswith(".") and request is not None and request.route is not None:
        current = request.route.name
        name = current.rsplit(".", 1)[0] + name if "." in current else name[1:]
    candidates = rules.get(name)
    if not candidates:
        raise BuildError(f"no route is named {name!r}")
    rule = next((r for r in candidates if r.names <= params.keys()), None)
    if rule is None:
        missing = sorted(candidates[0].names - params.keys())
        raise BuildError(f"url_for({name!r}) is missing path parameter(s): {', '.join(missing)}")
    try:
        url = rule.build(params)
    except (ValueError, TypeError) as exc:
        raise BuildError(
            f"url_for({name!r}): a parameter does not fit its converter: {exc}"
        ) from None
    root = request.root_path if request is not None else ""
    url = quote(root, safe="/") + url
    if external or scheme:
        if request is not None:
            host, default = request.host, request.scheme
        elif server_name:
            host, default = server_name, default_scheme
        else:
            raise BuildError(
                "url_for(_external=True) outside a request needs SERVER_NAME in the config"
            )
        url = f"{scheme or default}://{host}{url}"
    if anchor:
        url += "#" + quote(str(anchor), safe="")
    return url


def url_for(name: str, /, **params: Any) -> str:
    """The URL of the route called ``name`` (``"fn"`` or ``"router.fn"``).

    Path parameters fill the pattern (escaped, through each converter's ``to_url``); other
    keyword arguments become the query string. ``_external=True`` gives an absolute URL,
    ``_anchor`` a fragment, and a name starting with ``.`` is relative to the current
    router. Inside a request it uses the current app; outside, call ``app.url_for``.
    """
    request = get_current_request()
    if request is None:
        raise SetupError("url_for() is used outside a request: call app.url_for() instead")
    return request.app.url_for(name, _request=request, **params)

"""The RSGI adapter's conversions: header pairs to ``str``, addresses, mounted ASGI apps.

granian takes response headers as ``str`` pairs and writes them as UTF-8; kettle keeps
headers as latin-1 ``bytes`` pairs, as ASGI does. Decoding as UTF-8 gives granian exactly
the bytes an ASGI server would send, whenever they are valid UTF-8 (ASCII always is).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ._common import JSON_TYPE

if TYPE_CHECKING:
    from granian.rsgi import HTTPProtocol  # type: ignore[attr-defined]  # no __all__ there

    from .._compiler import Endpoint
    from ..app import Kettle

__all__ = [
    "STR_LENGTHS",
    "WireHeaders",
    "address",
    "lossy_raw_path",
    "str_headers",
    "to_mounted",
]

RawHeaders = list[tuple[bytes, bytes]]
StrHeaders = list[tuple[str, str]]

#: ``str(n)`` for the small bodies most responses have (Content-Length values).
STR_LENGTHS = tuple(str(n) for n in range(4096))
_URL_SAFE = "/:@!$&'()*+,;=-._~"


def _text(value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        # Bytes no str can stand for (latin-1 text): granian will send them as UTF-8.
        return value.decode("latin-1")


def str_headers(raw: Iterable[tuple[bytes, bytes]]) -> StrHeaders:
    """``raw`` header pairs as granian takes them."""
    try:
        # PERF: the common case, all UTF-8 (ASCII), decoded in one comprehension.
        return [(name.decode(), value.decode()) for name, value in raw]
    except UnicodeDecodeError:
        return [(_text(name), _text(value)) for name, value in raw]


class WireHeaders:
    """An app's constant header blocks as ``str`` pairs, converted once.

    ``source`` is the app's ``_api_headers`` they were built from, for the adapter to
    notice a change. :meth:`response` turns a response's header pairs into what granian
    takes, adding the app's security block. The commonest response — a body of one known
    content type and nothing else — is answered from pairs converted once per type; any
    other is dressed, and the security block is then found again by identity: ``dress``
    appends the very tuples ``header_block`` hands out, so the tail of a dressed response
    is recognised by its first pair's ``id`` (the blocks are kept alive here) and then
    compared in full.
    """

    __slots__ = ("_blocks", "_plain", "_security", "api", "json_type", "source")

    #: How many content types :meth:`response` keeps converted pairs for.
    PLAIN_TYPES = 32

    def __init__(self, app: Kettle) -> None:
        self.source = app._api_headers
        name, value = JSON_TYPE or (b"content-type", b"application/json")
        self.json_type = (name.decode(), value.decode())
        api = self.source
        self.api = None if api is None else (str_headers(api[0]), str_headers(api[1]))
        self._security = security = app._security_headers
        # A content-type pair -> its str pair and the security block (http, https) after it.
        self._plain: dict[tuple[bytes, bytes], tuple[tuple[str, str], tuple[StrHeaders, ...]]]
        self._plain = {}
        self._blocks: dict[int, list[tuple[RawHeaders, StrHeaders]]] = {}
        if security is not None:
            for html in (False, True):
                for https in (False, True):
                    block = security.header_block(html=html, https=https)
                    if block:
                        known = self._blocks.setdefault(id(block[0]), [])
                        known.append((block, str_headers(block)))

    def response(self, raw: RawHeaders, https: bool, dress: bool) -> StrHeaders:
        """``raw`` as ``str`` pairs, with the app's security block appended when ``dress``
        (``raw`` itself may be dressed in place on the way).
        """
        if len(raw) == 2:
            first, second = raw
            known = self._plain.get(first)
            if known is None:
                known = self._learn(first)
            # PERF: content type and length only (most responses): pairs converted once.
            if known is not None and second[0] == b"content-length":
                out = [known[0], ("content-length", second[1].decode())]
                if dress:
                    out += known[1][https]
                return out
        if not dress or self._security is None:
            return str_headers(raw)
        own = len(raw)
        self._security.dress(raw, https)
        return self._dressed(raw, own)

    def _learn(
        self, pair: tuple[bytes, bytes]
    ) -> tuple[tuple[str, str], tuple[StrHeaders, ...]] | None:
        # The block after a content type is what dress itself appends to it alone.
        if pair[0] != b"content-type" or len(self._plain) >= self.PLAIN_TYPES:
            return None
        try:
            head = (pair[0].decode(), pair[1].decode())
        except UnicodeDecodeError:
            return None
        tails: list[StrHeaders] = []
        for https in (False, True):
            sample = [pair]
            if self._security is not None:
                self._security.dress(sample, https)
            tails.append(str_headers(sample[1:]))
        known = self._plain[pair] = (head, tuple(tails))
        return known

    def _dressed(self, raw: RawHeaders, own: int) -> StrHeaders:
        """``raw`` as ``str`` pairs, where ``dress`` appended to its first ``own`` pairs."""
        if len(raw) > own:
            for block, text in self._blocks.get(id(raw[own]), ()):
                if raw[own:] == block:
                    return str_headers(raw[:own]) + text
        return str_headers(raw)


def address(text: str) -> tuple[str, int] | None:
    """``"host:port"`` (``"[::1]:port"`` for IPv6) as ASGI's ``(host, port)``; ``None``
    for a Unix socket, which has no address.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or host.startswith("/"):
        return None
    if host.startswith("["):
        host = host[1:-1]
    return (host, int(port))


def lossy_raw_path(path: str) -> bytes:
    """A ``raw_path`` for a path granian decoded with U+FFFD in it.

    RSGI gives no raw path, and a U+FFFD there almost always stands for bytes that were
    not UTF-8; writing it back as ``%FF`` lets kettle refuse the path as it does over
    ASGI (a U+FFFD the client really sent, ``%EF%BF%BD``, is refused too).
    """
    text = path.replace("\ufffd", "\udcff")
    return quote(text, safe=_URL_SAFE, errors="surrogateescape").encode("ascii")


async def to_mounted(endpoint: Endpoint, scope: dict[str, Any], protocol: HTTPProtocol) -> None:
    """Run a mounted ASGI (or wrapped WSGI) app over the RSGI protocol."""
    from granian.rsgi import ProtocolClosed  # type: ignore[attr-defined]  # no __all__ there

    # A foreign app sees the full path and a root_path extended by its prefix (ASGI spec).
    child = {
        **scope,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "root_path": scope["root_path"] + endpoint.prefix,
        "path": scope["root_path"] + scope["path"],
    }
    chunks = protocol.__aiter__()
    body_done = False
    status = 500
    headers: StrHeaders = []
    transport: Any = None
    started = finished = False

    async def receive() -> MutableMapping[str, Any]:
        nonlocal body_done
        while not body_done:
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if chunk:
                return {"type": "http.request", "body": chunk, "more_body": True}
        await protocol.client_disconnect()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, headers, transport, started, finished
        kind = message["type"]
        if kind == "http.response.start":
            status = message["status"]
            headers = str_headers(message.get("headers", ()))
            started = True
        elif kind == "http.response.body" and started and not finished:
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if transport is None and not more:
                protocol.response_bytes(status, headers, body)
                finished = True
                return
            if transport is None:
                transport = protocol.response_stream(status, headers)
            if body:
                try:
                    await transport.send_bytes(body)
                except ProtocolClosed:
                    finished = True  # the client is gone; the app's later writes are dropped
            if not more:
                finished = True

    await endpoint.mount(child, receive, send)
    if started and transport is None and not finished:
        protocol.response_bytes(status, headers, b"")

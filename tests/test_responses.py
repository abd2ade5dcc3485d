"""Responses: the Response family, headers, cookies, return-value coercion, JSON, HEAD.

Every behaviour is checked on the wire, through ``app.test_client()``; a few constructor
checks (invalid headers and cookies) look at the Response object directly, since they must
fail before anything is sent.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import logging
import math
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import msgspec
import pytest

from kettle import (
    HTMLResponse,
    JSONResponse,
    Kettle,
    RedirectResponse,
    Request,
    Response,
    StreamingResponse,
    TextResponse,
    redirect,
)
from kettle.testing import TestClient

SECRET = "x" * 32
HTML = "text/html; charset=utf-8"


def make_app(**options: Any) -> Kettle:
    return Kettle(__name__, config={"SECRET_KEY": SECRET}, **options)


def serve(value: Callable[[], Any], **client_options: Any) -> TestClient:
    """A client for an app whose ``/`` route returns ``value()`` (made per request)."""
    app = make_app()

    @app.get("/")
    def index(req: Request) -> Any:
        return value()

    return app.test_client(**client_options)


def cookie_attrs(header: str) -> tuple[str, dict[str, str]]:
    """``name=value`` and the attributes of one ``Set-Cookie`` header, names lower-cased."""
    first, *rest = header.split("; ")
    attrs: dict[str, str] = {}
    for attr in rest:
        name, _, value = attr.partition("=")
        attrs[name.lower()] = value
    return first, attrs


# --- the Response family ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "content_type", "body"),
    [
        (lambda: Response(b"raw"), None, b"raw"),
        (lambda: Response("text é"), None, "text é".encode()),
        (lambda: Response(b"a,b", media_type="text/csv"), "text/csv; charset=utf-8", b"a,b"),
        (lambda: Response(b"<svg/>", media_type="image/svg+xml"), "image/svg+xml", b"<svg/>"),
        (lambda: Response(bytearray(b"ba")), None, b"ba"),
        (lambda: HTMLResponse("<p>é</p>"), HTML, "<p>é</p>".encode()),
        (lambda: TextResponse("plain"), "text/plain; charset=utf-8", b"plain"),
        (lambda: JSONResponse({"a": [1, None]}), "application/json", b'{"a":[1,null]}'),
        (lambda: JSONResponse([1, "x"]), "application/json", b'[1,"x"]'),
        (lambda: JSONResponse(None), "application/json", b"null"),
    ],
    ids=["bytes", "str", "csv", "svg", "bytearray", "html", "text", "json", "json-list", "null"],
)
def test_response_classes(
    make: Callable[[], Response], content_type: str | None, body: bytes
) -> None:
    with serve(make) as client:
        r = client.get("/")
    assert r.status_code == 200
    assert r.content == body
    assert r.headers.get("content-type") == content_type
    assert r.headers["content-length"] == str(len(body))


def test_status_and_extra_headers() -> None:
    with serve(lambda: TextResponse("made", 201, {"x-a": "1", "X-B": "2"})) as client:
        r = client.get("/")
    assert r.status_code == 201
    assert (r.headers["x-a"], r.headers["x-b"]) == ("1", "2")


def test_response_refuses_content_it_cannot_send() -> None:
    with pytest.raises(TypeError, match="takes bytes or str"):
        Response(12)
    with pytest.raises(TypeError, match="takes bytes or str"):
        HTMLResponse({"a": 1})


async def agen_chunks() -> AsyncIterator[str | bytes]:
    yield "a"
    yield b"b"
    yield "é"


def gen_chunks() -> Iterator[str | bytes]:
    yield "a"
    yield b"b"
    yield "é"


@pytest.mark.parametrize("source", [gen_chunks, agen_chunks], ids=["sync", "async"])
@pytest.mark.parametrize("media_type", [None, "text/plain"])
def test_streaming_response(
    source: Callable[[], Iterator[str | bytes] | AsyncIterator[str | bytes]],
    media_type: str | None,
) -> None:
    with serve(lambda: StreamingResponse(source(), media_type=media_type)) as client:
        r = client.get("/")
    assert r.status_code == 200
    assert r.content == "abé".encode()
    assert "content-length" not in r.headers
    assert r.headers["content-type"] == f"{media_type or 'text/html'}; charset=utf-8"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_streaming_generator_is_closed_after_the_response(kind: str) -> None:
    closed: list[str] = []

    def sync_source() -> Iterator[bytes]:
        try:
            yield b"x"
        finally:
            closed.append("sync")

    async def async_source() -> AsyncIterator[bytes]:
        try:
            yield b"x"
        finally:
            closed.append("async")

    def make() -> Response:
        return StreamingResponse(sync_source() if kind == "sync" else async_source())

    with serve(make) as client:
        assert client.get("/").content == b"x"
    assert closed == [kind]


def test_streaming_chunk_of_the_wrong_type_is_an_error() -> None:
    def numbers() -> Iterator[int]:
        yield 3

    with serve(lambda: StreamingResponse(numbers())) as client, pytest.raises(TypeError):
        client.get("/")


# --- headers ------------------------------------------------------------------------------


def test_header_mutation() -> None:
    resp = Response(b"x", headers=[("x-multi", "1"), ("x-multi", "2"), ("x-gone", "bye")])
    resp.headers["X-New"] = "new"
    resp.headers["x-multi"] = "only"  # replaces every value
    resp.headers.add("Set-Cookie", "a=1")
    resp.headers.add("set-cookie", "b=2")
    del resp.headers["X-Gone"]
    assert resp.headers["x-new"] == "new"
    assert resp.headers.getlist("X-MULTI") == ["only"]
    assert resp.headers.getlist("set-cookie") == ["a=1", "b=2"]
    assert "x-gone" not in resp.headers
    assert resp.headers.pop("x-new") == "new"
    assert resp.headers.pop("x-new", "default") == "default"
    assert resp.headers.setdefault("x-d", "1") == "1"
    assert resp.headers.setdefault("x-d", "2") == "1"
    with pytest.raises(KeyError):
        del resp.headers["x-never-set"]


def test_header_mutation_reaches_the_wire() -> None:
    app = make_app()

    @app.use
    async def stamp(req: Request, call_next: Any) -> Response:
        resp: Response = await call_next(req)
        resp.headers["x-stamp"] = "1"
        resp.headers.add("x-multi", "2")
        del resp.headers["x-drop"]
        return resp

    @app.get("/")
    async def index(req: Request) -> Response:
        return TextResponse("ok", headers=[("x-multi", "1"), ("x-drop", "me")])

    with app.test_client() as client:
        r = client.get("/")
    assert r.headers["x-stamp"] == "1"
    assert r.headers.get_list("x-multi") == ["1", "2"]
    assert "x-drop" not in r.headers


def _slots(response: Response) -> dict[str, Any]:
    """Every slot of ``response``, lists copied (the adapter adds headers later)."""
    names = [name for cls in type(response).__mro__ for name in getattr(cls, "__slots__", ())]
    values = {name: getattr(response, name) for name in names}
    return {name: list(v) if isinstance(v, list) else v for name, v in values.items()}


@pytest.mark.parametrize(
    "value",
    [{"message": "Hello, World!"}, {"big": "x" * 5000}, {}, {"nested": [1, {"a": None}]}],
    ids=["small", "over-4-KiB", "empty", "nested"],
)
@pytest.mark.parametrize("sync", [False, True], ids=["async", "def"])
def test_returned_dict_behind_middleware_is_a_full_json_response(
    value: dict[str, Any], sync: bool
) -> None:
    app = make_app()
    seen: list[tuple[type[Response], dict[str, Any]]] = []

    @app.use
    async def capture(req: Request, call_next: Any) -> Response:
        resp: Response = await call_next(req)
        seen.append((type(resp), _slots(resp)))
        resp.headers["x-seen"] = "1"
        return resp

    if sync:
        app.get("/", name="index")(lambda req: value)
    else:

        @app.get("/")
        async def index(req: Request) -> dict[str, Any]:
            return value

    with app.test_client() as client:
        r = client.get("/")
    assert r.status_code == 200
    assert r.json() == value
    assert r.headers["x-seen"] == "1"
    assert int(r.headers["content-length"]) == len(r.content)
    [(kind, slots)] = seen
    assert kind is JSONResponse
    assert slots == _slots(JSONResponse(value))


BAD_HEADERS = [
    ("x-a", "v\r\nx-injected: 1"),
    ("x-a", "v\nx"),
    ("x-a", "v\rx"),
    ("x-a", "v\x00"),
    ("x-a\r\nx-b", "v"),
    ("x:a", "v"),
    ("x a", "v"),
    ("", "v"),
]


@pytest.mark.parametrize(("name", "value"), BAD_HEADERS)
@pytest.mark.parametrize("how", ["setitem", "add", "constructor"])
def test_invalid_header_is_a_value_error(name: str, value: str, how: str) -> None:
    with pytest.raises(ValueError, match="response header"):
        if how == "constructor":
            Response(b"", headers={name: value})
        elif how == "add":
            Response(b"").headers.add(name, value)
        else:
            Response(b"").headers[name] = value


def test_header_splitting_from_a_handler_is_a_500_not_a_second_header() -> None:
    with serve(lambda: ("x", 200, {"x-a": "v\r\nset-cookie: pwn=1"})) as client:
        r = client.get("/")
    assert r.status_code == 500
    assert "set-cookie" not in r.headers


# --- cookies ------------------------------------------------------------------------------


def cookie_app() -> Kettle:
    app = make_app()

    @app.get("/set")
    def set_(req: Request) -> Response:
        resp = TextResponse("set")
        options: dict[str, Any] = {}
        if "secure" in req.query:
            options["secure"] = req.query["secure"] == "1"
        resp.set_cookie("sid", "abc123", **options)
        return resp

    @app.get("/delete")
    def delete(req: Request) -> Response:
        resp = TextResponse("deleted")
        resp.delete_cookie("sid")
        return resp

    @app.get("/peek")
    def peek(req: Request) -> dict[str, str]:
        return req.cookies

    return app


@pytest.mark.parametrize(
    ("base_url", "query", "secure"),
    [
        ("http://testserver", "", False),
        ("https://testserver", "", True),
        ("https://testserver", "?secure=0", False),
        ("http://testserver", "?secure=1", True),
    ],
)
def test_set_cookie_defaults(base_url: str, query: str, secure: bool) -> None:
    with cookie_app().test_client(base_url=base_url) as client:
        r = client.get(f"/set{query}")
    (header,) = r.headers.get_list("set-cookie")
    pair, attrs = cookie_attrs(header)
    assert pair == "sid=abc123"
    assert attrs["path"] == "/"
    assert attrs["samesite"] == "Lax"
    assert "httponly" in attrs
    assert ("secure" in attrs) is secure


def test_set_cookie_options() -> None:
    resp = Response(b"")
    expires = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    resp.set_cookie(
        "pref",
        "dark",
        max_age=3600,
        expires=expires,
        path="/app",
        domain="example.com",
        secure=True,
        httponly=False,
        samesite="strict",
        partitioned=True,
    )
    pair, attrs = cookie_attrs(resp.headers["set-cookie"])
    assert pair == "pref=dark"
    assert attrs["max-age"] == "3600"
    assert parsedate_to_datetime(attrs["expires"]) == expires
    assert (attrs["path"], attrs["domain"], attrs["samesite"]) == ("/app", "example.com", "Strict")
    assert "secure" in attrs
    assert "partitioned" in attrs
    assert "httponly" not in attrs


def test_samesite_none_needs_secure() -> None:
    with pytest.raises(ValueError, match="secure"):
        Response(b"").set_cookie("a", "1", samesite="none", secure=False)
    resp = Response(b"")
    resp.set_cookie("a", "1", samesite="none")  # secure left to kettle: it is forced on
    _, attrs = cookie_attrs(resp.headers["set-cookie"])
    assert attrs["samesite"] == "None"
    assert "secure" in attrs


@pytest.mark.parametrize(
    ("key", "value", "options"),
    [
        ("sid", "a;b", {}),
        ("sid", "a,b", {}),
        ("sid", "a\r\nSet-Cookie: x=1", {}),
        ("sid", "a\nb", {}),
        ("sid", "a b", {}),
        ("sid", 'a"b', {}),
        ("sid", "a\\b", {}),
        ("a;b", "v", {}),
        ("a=b", "v", {}),
        ("a\r\nb", "v", {}),
        ("", "v", {}),
        ("sid", "v", {"path": "/;x"}),
        ("sid", "v", {"path": "/\r\nx"}),
        ("sid", "v", {"domain": "a.com,b.com"}),
        ("sid", "v", {"domain": "a.com; Secure"}),
    ],
)
def test_set_cookie_refuses_separators_and_line_breaks(
    key: str, value: str, options: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        Response(b"").set_cookie(key, value, **options)


def test_delete_cookie() -> None:
    with cookie_app().test_client() as client:
        client.get("/set")
        assert client.get("/peek").json() == {"sid": "abc123"}
        r = client.get("/delete")
        pair, attrs = cookie_attrs(r.headers["set-cookie"])
        assert pair == "sid="
        assert attrs["max-age"] == "0"
        assert parsedate_to_datetime(attrs["expires"]).timestamp() == 0
        assert attrs["path"] == "/"
        assert client.get("/peek").json() == {}


def test_cookie_stays_secure_over_https_after_headers_change() -> None:
    app = make_app()

    @app.use
    async def strip(req: Request, call_next: Any) -> Response:
        resp: Response = await call_next(req)
        del resp.headers["x-powered-by"]
        return resp

    @app.get("/")
    def index(req: Request) -> Response:
        resp = TextResponse("ok", headers={"x-powered-by": "me"})
        resp.set_cookie("sid", "abc")
        resp.headers["x-after"] = "1"
        return resp

    with app.test_client(base_url="https://testserver") as client:
        r = client.get("/")
    _, attrs = cookie_attrs(r.headers["set-cookie"])
    assert "secure" in attrs
    assert r.headers["x-after"] == "1"


# --- return-value coercion ------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    y: int


class User(msgspec.Struct):
    name: str
    tags: list[str] = []


def sync_gen() -> Iterator[str | bytes]:
    yield "<p>"
    yield b"streamed</p>"


async def async_gen() -> AsyncIterator[str | bytes]:
    yield "<p>"
    yield b"streamed</p>"


JSON_TYPE = "application/json"
OCTETS = "application/octet-stream"


def coerced(
    case_id: str,
    value: Callable[[], Any],
    status: int,
    content_type: str,
    body: bytes,
    *,
    streamed: bool = False,
) -> Any:
    return pytest.param(value, status, content_type, body, streamed, id=case_id)


TEXT = "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("value", "status", "content_type", "body", "streamed"),
    [
        coerced("response", lambda: TextResponse("as is", 202), 202, TEXT, b"as is"),
        coerced("str", lambda: "<b>héllo</b>", 200, HTML, "<b>héllo</b>".encode()),
        coerced("bytes", lambda: b"\x00\xff", 200, OCTETS, b"\x00\xff"),
        coerced("bytearray", lambda: bytearray(b"ba"), 200, OCTETS, b"ba"),
        coerced("dict", lambda: {"a": 1}, 200, JSON_TYPE, b'{"a":1}'),
        coerced("list", lambda: [1, "two"], 200, JSON_TYPE, b'[1,"two"]'),
        coerced("struct", lambda: User("ada"), 200, JSON_TYPE, b'{"name":"ada","tags":[]}'),
        coerced("dataclass", lambda: Point(1, 2), 200, JSON_TYPE, b'{"x":1,"y":2}'),
        coerced("body-status", lambda: ("created", 201), 201, HTML, b"created"),
        coerced("dict-status", lambda: ({"id": 7}, 201), 201, JSON_TYPE, b'{"id":7}'),
        coerced("response-status", lambda: (TextResponse("t"), 418), 418, TEXT, b"t"),
        coerced("generator", sync_gen, 200, HTML, b"<p>streamed</p>", streamed=True),
        coerced("async-generator", async_gen, 200, HTML, b"<p>streamed</p>", streamed=True),
    ],
)
def test_return_value_coercion(
    value: Callable[[], Any], status: int, content_type: str, body: bytes, streamed: bool
) -> None:
    with serve(value) as client:
        r = client.get("/")
    assert r.status_code == status
    assert r.headers["content-type"] == content_type
    assert r.content == body
    if streamed:
        assert "content-length" not in r.headers
    else:
        assert r.headers["content-length"] == str(len(body))


@pytest.mark.parametrize(
    "headers",
    [
        {"x-extra": "1", "Cache-Control": "no-store"},
        [("x-extra", "1"), ("cache-control", "no-store")],
    ],
    ids=["dict", "pairs"],
)
def test_tuple_with_headers(headers: Any) -> None:
    with serve(lambda: ({"ok": True}, 202, headers)) as client:
        r = client.get("/")
    assert r.status_code == 202
    assert r.json() == {"ok": True}
    assert (r.headers["x-extra"], r.headers["cache-control"]) == ("1", "no-store")


def test_none_is_204_without_body_or_length() -> None:
    with serve(lambda: None) as client:
        r = client.get("/")
    assert r.status_code == 204
    assert r.content == b""
    assert "content-length" not in r.headers
    assert "content-type" not in r.headers


@pytest.mark.parametrize("kind", ["generator-function", "async-generator-function"])
def test_generator_handlers_are_streamed(kind: str) -> None:
    app = make_app()
    if kind == "generator-function":

        @app.get("/")
        def index(req: Request) -> Iterator[str]:
            yield "one,"
            yield "two"

    else:

        @app.get("/")
        async def index_async(req: Request) -> AsyncIterator[str]:
            yield "one,"
            yield "two"

    with app.test_client() as client:
        r = client.get("/")
    assert r.content == b"one,two"
    assert "content-length" not in r.headers


def test_str_subclass_is_html() -> None:
    class Safe(str):
        pass

    with serve(lambda: Safe("<b>ok</b>")) as client:
        r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == HTML
    assert r.content == b"<b>ok</b>"


@pytest.mark.parametrize(
    "value",
    [lambda: object(), lambda: 42, lambda: ("a", 200, {}, "extra"), lambda: ("a", "201")],
    ids=["object", "int", "four-tuple", "str-status"],
)
def test_return_value_kettle_cannot_coerce_is_a_generic_500(value: Callable[[], Any]) -> None:
    with serve(value) as client:
        r = client.get("/")
    assert r.status_code == 500
    request_id = r.headers["x-request-id"]
    assert r.json() == {
        "error": {"status": 500, "detail": "Internal Server Error", "request_id": request_id}
    }


# --- statuses without a body ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status"),
    [
        pytest.param(lambda: Response(status=204), 204, id="Response-204"),
        pytest.param(lambda: Response(b"", 304), 304, id="Response-304"),
        pytest.param(lambda: Response(None, 304, {"etag": '"v1"'}), 304, id="Response-304-etag"),
        pytest.param(lambda: ("", 204), 204, id="tuple-204"),
        pytest.param(lambda: ("", 304), 304, id="tuple-304"),
        pytest.param(lambda: Response(b"oops", 204), 204, id="Response-204-with-content"),
    ],
)
def test_204_and_304_have_no_content_length_or_body(value: Callable[[], Any], status: int) -> None:
    with serve(value) as client:
        r = client.get("/")
    assert r.status_code == status
    assert "content-length" not in r.headers
    assert r.content == b""


# --- JSON -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), b'"2024-01-02T03:04:05Z"'),
        (
            datetime.datetime(
                2024, 1, 2, 3, 4, 5, 6000, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
            ),
            b'"2024-01-02T03:04:05.006000+02:00"',
        ),
        (datetime.date(2024, 1, 2), b'"2024-01-02"'),
        (datetime.time(13, 14, 15), b'"13:14:15"'),
        (
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
            b'"12345678-1234-5678-1234-567812345678"',
        ),
        (decimal.Decimal("1.10"), b'"1.10"'),
        (decimal.Decimal("-0.000001"), b'"-0.000001"'),
        (Color.RED, b'"red"'),
        (Level.HIGH, b"3"),
        (Point(1, 2), b'{"x":1,"y":2}'),
        (User("ada", ["admin"]), b'{"name":"ada","tags":["admin"]}'),
        (
            [Point(0, 0), {"u": uuid.UUID(int=0)}],
            b'[{"x":0,"y":0},{"u":"00000000-0000-0000-0000-000000000000"}]',
        ),
        ({1: "int key"}, b'{"1":"int key"}'),
        ("é\u2028<", '"é\u2028<"'.encode()),
    ],
    ids=[
        "datetime-utc",
        "datetime-offset",
        "date",
        "time",
        "uuid",
        "decimal",
        "decimal-small",
        "enum",
        "int-enum",
        "dataclass",
        "struct",
        "nested",
        "int-key",
        "unicode",
    ],
)
@pytest.mark.parametrize("via", ["dict", "JSONResponse"])
def test_json_encoding(value: Any, encoded: bytes, via: str) -> None:
    def make() -> Any:
        return {"v": value} if via == "dict" else JSONResponse({"v": value})

    with serve(make) as client:
        r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.content == b'{"v":' + encoded + b"}"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_json_body_is_valid_json_for_non_finite_decimals(value: str) -> None:
    with serve(lambda: {"v": decimal.Decimal(value)}) as client:
        r = client.get("/", headers={"accept": "application/json"})
    msgspec.json.decode(r.content)  # strict: refuses NaN and Infinity, as JSON does


def test_non_finite_floats_are_null() -> None:
    with serve(lambda: [math.nan, math.inf, -math.inf]) as client:
        assert client.get("/").content == b"[null,null,null]"


class Unencodable:
    def __repr__(self) -> str:
        return "<Unencodable secret=hunter2>"


def raise_html() -> Any:
    raise ValueError("<script>alert('secret')</script>")


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        (lambda: {"thing": Unencodable()}, "cannot encode"),
        (lambda: [Unencodable()], "cannot encode"),
        (lambda: JSONResponse({"thing": Unencodable()}), "cannot encode"),
        (raise_html, "<script>"),
    ],
    ids=["dict", "list", "JSONResponse", "exception-with-html"],
)
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_unencodable_value_is_a_logged_generic_500_and_the_worker_keeps_serving(
    caplog: pytest.LogCaptureFixture, value: Callable[[], Any], logged: str, accept: str
) -> None:
    app = make_app()

    @app.get("/bad")
    def bad(req: Request) -> Any:
        return value()

    @app.get("/good")
    def good(req: Request) -> dict[str, bool]:
        return {"ok": True}

    with caplog.at_level(logging.ERROR, logger="kettle.error"), app.test_client() as client:
        r = client.get("/bad", headers={"accept": accept})
        after = client.get("/good")
    assert r.status_code == 500
    assert "Internal Server Error" in r.text
    for leak in ("Unencodable", "hunter2", "cannot encode", "script", "Traceback"):
        assert leak not in r.text
    records = [rec for rec in caplog.records if rec.name == "kettle.error"]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert logged in str(records[0].exc_info[1])
    assert "GET /bad" in records[0].getMessage()
    assert after.status_code == 200
    assert after.json() == {"ok": True}


def test_unencodable_value_in_debug_shows_the_error() -> None:
    app = make_app(debug=True)

    @app.get("/")
    def index(req: Request) -> Any:
        return {"thing": Unencodable()}

    with app.test_client() as client:
        r = client.get("/")
    assert r.status_code == 500
    assert "cannot encode" in r.text


# --- redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_status(status: int) -> None:
    with serve(lambda: redirect("/next", status)) as client:
        r = client.get("/")
    assert r.status_code == status
    assert r.headers["location"] == "/next"
    assert r.headers["content-type"] == HTML


def test_redirect_default_is_302_and_follows() -> None:
    app = make_app()

    @app.get("/")
    def index(req: Request) -> Response:
        return RedirectResponse("/there")

    @app.get("/there")
    def there(req: Request) -> str:
        return "arrived"

    with app.test_client(follow_redirects=True) as client:
        r = client.get("/")
    assert r.text == "arrived"
    assert [h.status_code for h in r.history] == [302]


@pytest.mark.parametrize(
    ("target", "location", "shown"),
    [
        (
            "/x?<script>alert(1)</script>",
            "/x?%3Cscript%3Ealert(1)%3C/script%3E",
            "/x?%3Cscript%3Ealert(1)%3C/script%3E",
        ),
        (
            '/x"onmouseover="alert(1)',
            "/x%22onmouseover=%22alert(1)",
            "/x%22onmouseover=%22alert(1)",
        ),
        ("/it's", "/it's", "/it&#x27;s"),
        ("/a?b=1&c=2", "/a?b=1&c=2", "/a?b=1&amp;c=2"),
        ("/caf\u00e9", "/caf%C3%A9", "/caf%C3%A9"),
        ("/already%20encoded", "/already%20encoded", "/already%20encoded"),
        ("/x\r\nSet-Cookie: pwn=1", "/x%0D%0ASet-Cookie:%20pwn=1", "/x%0D%0ASet-Cookie:%20pwn=1"),
    ],
)
def test_redirect_escapes_the_url(target: str, location: str, shown: str) -> None:
    with serve(lambda: RedirectResponse(target)) as client:
        r = client.get("/")
    assert r.headers["location"] == location
    assert "set-cookie" not in r.headers
    assert r.text == f'Redirecting to <a href="{shown}">{shown}</a>.'


@pytest.mark.parametrize("status", [200, 204, 404, 500])
def test_redirect_needs_a_3xx_status(status: int) -> None:
    with pytest.raises(ValueError, match="3xx"):
        RedirectResponse("/", status)


# --- HEAD -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "length"),
    [("/html", "11"), ("/json", "7"), ("/bytes", "3"), ("/users/7", "8"), ("/text", "4")],
)
def test_head_of_a_get_route_has_the_get_headers_and_no_body(path: str, length: str) -> None:
    app = make_app()

    @app.get("/html")
    def html(req: Request) -> str:
        return "<p>hi!</p>\n"

    @app.get("/json")
    async def json_(req: Request) -> dict[str, int]:
        return {"a": 1}

    @app.get("/bytes")
    def octets(req: Request) -> bytes:
        return b"abc"

    @app.get("/users/<int:uid>")
    async def user(req: Request, uid: int) -> dict[str, int]:
        return {"id": uid}

    @app.get("/text")
    def text(req: Request) -> Response:
        return TextResponse("text", headers={"x-custom": "1"})

    with app.test_client() as client:
        get = client.get(path)
        head = client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == length
    assert head.headers.multi_items() == get.headers.multi_items()


def test_head_of_a_streamed_route_sends_no_body() -> None:
    app = make_app()

    @app.get("/")
    def index(req: Request) -> Iterator[str]:
        yield "streamed"

    with app.test_client() as client:
        r = client.head("/")
    assert r.status_code == 200
    assert r.content == b""
    assert "content-length" not in r.headers

"""Request: the request line, headers, query, cookies, body, JSON, forms, limits, negotiation.

Everything goes through the public API: an app, its handlers and ``app.test_client()``. Where
the test client would hide what is being tested (how much of a body kettle reads before it
gives up), the app is driven with a raw ASGI scope instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import httpx
import pytest

from kettle import Kettle, Request, Response
from kettle.testing import TestClient
from kettle.uploads import UploadFile

CallNext = Callable[[Request], Awaitable[Response]]
Message = MutableMapping[str, Any]

SECRET = "x" * 32
MiB = 1024 * 1024
JSON = {"content-type": "application/json"}
URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


def make_app(**config: Any) -> Kettle:
    return Kettle(__name__, config={"SECRET_KEY": SECRET, **config})


def add_routes(app: Kettle) -> None:
    """The echo routes most tests talk to; each reports one part of the request."""
    add_line_routes(app)
    add_body_routes(app)


def add_line_routes(app: Kettle) -> None:
    """Routes that report the request line, headers, query, cookies and negotiation."""

    @app.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(req: Request) -> dict[str, Any]:
        return {"method": req.method, "path": req.path, "url": str(req.url)}

    @app.get("/p/<name>")
    async def named(req: Request, name: str) -> dict[str, Any]:
        url = req.url
        return {"path": req.path, "name": name, "url_path": url.path}

    @app.get("/items/<int:item_id>/<path:rest>")
    async def item(req: Request, item_id: int, rest: str) -> dict[str, Any]:
        return {"params": req.path_params, "id_is_int": type(item_id) is int, "rest": rest}

    @app.get("/url")
    async def url(req: Request) -> dict[str, Any]:
        u = req.url
        return {
            "url": str(u),
            "scheme": u.scheme,
            "hostname": u.hostname,
            "port": u.port,
            "path": u.path,
            "query": u.query,
            "host": req.host,
            "req_scheme": req.scheme,
        }

    @app.get("/headers")
    async def headers(req: Request) -> dict[str, Any]:
        h = req.headers
        return {
            "multi": h.getlist("X-MULTI"),
            "first": h["x-multi"],
            "single": h["X-Single"],
            "missing": h.get("x-missing"),
            "contains": "X-SINGLE" in h,
        }

    @app.get("/query")
    async def query(req: Request) -> list[tuple[str, str]]:
        return req.query.multi_items()

    @app.get("/query/getlist")
    async def query_getlist(req: Request) -> dict[str, Any]:
        q = req.query
        return {"a": q.getlist("a"), "first": q["a"], "missing": q.getlist("zzz"), "len": len(q)}

    @app.get("/cookies")
    async def cookies(req: Request) -> dict[str, str]:
        return req.cookies

    @app.get("/client")
    async def client(req: Request) -> list[Any]:
        address = req.client
        assert address is not None
        return [address.host, address.port]

    @app.post("/meta")
    async def meta(req: Request) -> dict[str, Any]:
        return {
            "content_type": req.content_type,
            "is_json": req.is_json,
            "content_length": req.content_length,
        }

    @app.get("/accepts")
    async def accepts(req: Request) -> dict[str, Any]:
        return {"best": req.accepts(*req.query.getlist("offer"))}


def add_body_routes(app: Kettle) -> None:
    """Routes that read the body: raw, streamed, JSON and form; three body limits."""

    @app.post("/body")
    async def body(req: Request) -> dict[str, Any]:
        data = await req.body()
        return {"size": len(data), "same": data == await req.body()}

    @app.post("/small", max_body_size="10KB")
    async def small(req: Request) -> dict[str, Any]:
        return {"size": len(await req.body())}

    @app.post("/large", max_body_size="2MB")
    async def large(req: Request) -> dict[str, Any]:
        return {"size": len(await req.body())}

    @app.post("/stream")
    async def stream(req: Request) -> dict[str, Any]:
        sizes = [len(chunk) async for chunk in req.stream()]
        return {"chunks": len(sizes), "size": sum(sizes)}

    @app.post("/json")
    async def json_(req: Request) -> dict[str, Any]:
        return {"value": await req.json()}

    @app.post("/form")
    async def form(req: Request) -> dict[str, Any]:
        data = await req.form()
        fields: dict[str, list[str]] = {}
        files: dict[str, dict[str, Any]] = {}
        for key, value in data.multi_items():
            if isinstance(value, UploadFile):
                await value.seek(0)
                files[key] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "content": (await value.read()).decode(),
                    "size": value.size,
                }
            else:
                fields.setdefault(key, []).append(value)
        return {"fields": fields, "files": files}


@pytest.fixture
def app() -> Kettle:
    app = make_app()
    add_routes(app)
    return app


@pytest.fixture
def client(app: Kettle) -> Iterator[TestClient]:
    with app.test_client() as client:
        yield client


def detail(response: httpx.Response) -> str:
    """The ``detail`` of kettle's default JSON error body."""
    error = response.json()["error"]
    assert error["status"] == response.status_code
    text: str = error["detail"]
    return text


def chunked(size: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A body without Content-Length: httpx sends an iterator with chunked encoding."""
    sent = 0
    while sent < size:
        piece = min(chunk, size - sent)
        yield b"x" * piece
        sent += piece


# --- the request line ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_method(client: TestClient, method: str) -> None:
    r = client.request(method, "/echo")
    assert r.status_code == 200
    assert r.json()["method"] == method


@pytest.mark.parametrize(
    ("raw", "path", "name"),
    [
        ("/p/plain", "/p/plain", "plain"),
        ("/p/a%20b", "/p/a b", "a b"),
        ("/p/caf%C3%A9", "/p/café", "café"),
        ("/p/100%25", "/p/100%", "100%"),
        ("/p/what%3F", "/p/what?", "what?"),
    ],
)
def test_path_is_percent_decoded_and_url_keeps_it_encoded(
    client: TestClient, raw: str, path: str, name: str
) -> None:
    r = client.get(raw)
    assert r.status_code == 200
    assert r.json() == {"path": path, "name": name, "url_path": raw}


def test_path_params_are_converted(client: TestClient) -> None:
    r = client.get("/items/42/a/b.txt")
    assert r.json() == {
        "params": {"item_id": 42, "rest": "a/b.txt"},
        "id_is_int": True,
        "rest": "a/b.txt",
    }


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (
            "http://testserver",
            {
                "url": "http://testserver/url?a=1&b=x%20y",
                "scheme": "http",
                "hostname": "testserver",
                "port": None,
                "path": "/url",
                "query": "a=1&b=x%20y",
                "host": "testserver",
                "req_scheme": "http",
            },
        ),
        (
            "https://Example.com:8443",
            {
                "url": "https://example.com:8443/url?a=1&b=x%20y",
                "scheme": "https",
                "hostname": "example.com",
                "port": 8443,
                "path": "/url",
                "query": "a=1&b=x%20y",
                "host": "example.com:8443",
                "req_scheme": "https",
            },
        ),
    ],
)
def test_url(app: Kettle, base_url: str, expected: dict[str, Any]) -> None:
    with app.test_client(base_url=base_url) as client:
        assert client.get("/url?a=1&b=x%20y").json() == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [({}, ["testclient", 50000]), ({"client": ("203.0.113.7", 4321)}, ["203.0.113.7", 4321])],
)
def test_client_address(app: Kettle, options: dict[str, Any], expected: list[Any]) -> None:
    with app.test_client(**options) as client:
        assert client.get("/client").json() == expected


# --- headers, query, cookies, state --------------------------------------------------------


def test_headers_are_case_insensitive_and_multi_valued(client: TestClient) -> None:
    r = client.get("/headers", headers=[("X-Multi", "a"), ("x-multi", "b"), ("X-Single", "one")])
    assert r.json() == {
        "multi": ["a", "b"],
        "first": "a",
        "single": "one",
        "missing": None,
        "contains": True,
    }


@pytest.mark.parametrize(
    ("query", "pairs"),
    [
        ("a=1&a=2&b=3", [["a", "1"], ["a", "2"], ["b", "3"]]),
        ("blank=&flag", [["blank", ""], ["flag", ""]]),
        ("q=a+b%20c", [["q", "a b c"]]),
        ("plus=%2B&amp=%26&eq=a%3Db", [["plus", "+"], ["amp", "&"], ["eq", "a=b"]]),
        ("e=caf%C3%A9", [["e", "café"]]),
        ("semi=a;b=c", [["semi", "a;b=c"]]),
        ("a[__proto__]=1&a[b][c]=2", [["a[__proto__]", "1"], ["a[b][c]", "2"]]),
        ("&&a=1&&", [["a", "1"]]),
        ("", []),
    ],
)
def test_query(client: TestClient, query: str, pairs: list[list[str]]) -> None:
    r = client.get(f"/query?{query}" if query else "/query")
    assert r.status_code == 200
    assert r.json() == pairs


def test_query_getlist(client: TestClient) -> None:
    r = client.get("/query/getlist?a=1&b=2&a=3")
    assert r.json() == {"a": ["1", "3"], "first": "1", "missing": [], "len": 2}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("x=%zz", "invalid percent-escape in query string"),
        ("x=%4", "invalid percent-escape in query string"),
        ("x=%", "invalid percent-escape in query string"),
        ("%zz=1", "invalid percent-escape in query string"),
        ("x=%ff", "invalid UTF-8 in query string"),
        ("x=%C0%AF", "invalid UTF-8 in query string"),  # overlong '/'
        ("x=%ED%A0%80", "invalid UTF-8 in query string"),  # a lone surrogate
    ],
)
def test_bad_query_is_400_with_a_clear_message(
    client: TestClient, query: str, message: str
) -> None:
    r = client.get(f"/query?{query}")
    assert r.status_code == 400
    assert detail(r) == message


@pytest.mark.parametrize(("count", "status"), [(1000, 200), (1001, 400), (10_000, 400)])
def test_max_query_params_default(client: TestClient, count: int, status: int) -> None:
    r = client.get("/query?" + "&".join(["a=1"] * count))
    assert r.status_code == status
    if status == 400:
        assert detail(r) == "too many fields in query string (limit 1000)"
    else:
        assert len(r.json()) == count


@pytest.mark.parametrize(("count", "status"), [(5, 200), (6, 400)])
def test_max_query_params_is_configurable(count: int, status: int) -> None:
    app = make_app(MAX_QUERY_PARAMS=5)
    add_routes(app)
    with app.test_client() as client:
        r = client.get("/query?" + "&".join(["a=1"] * count))
    assert r.status_code == status


@pytest.mark.parametrize(
    ("header", "cookies"),
    [
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("=__Host-sid=evil; __Host-sid=ok", {"__Host-sid": "ok"}),  # Werkzeug CVE-2023-23934
        ("a=first; a=second", {"a": "first"}),
        ('q="quoted"', {"q": "quoted"}),
        ("junk; c=3;;", {"c": "3"}),
        ("", {}),
    ],
)
def test_cookies(client: TestClient, header: str, cookies: dict[str, str]) -> None:
    r = client.get("/cookies", headers={"cookie": header})
    assert r.json() == cookies


def test_cookies_from_several_cookie_headers(client: TestClient) -> None:
    r = client.get("/cookies", headers=[("cookie", "a=1"), ("cookie", "b=2; c=3")])
    assert r.json() == {"a": "1", "b": "2", "c": "3"}


def test_state_is_per_request_and_shared_with_middleware() -> None:
    app = make_app()

    @app.use
    async def login(req: Request, call_next: CallNext) -> Response:
        if "user" in req.query:
            req.state.user = req.query["user"]
        return await call_next(req)

    @app.get("/")
    async def index(req: Request) -> dict[str, Any]:
        user = req.state.user if "user" in req.state else None
        return {"user": user, "got": req.state.get("user"), "has": "user" in req.state}

    with app.test_client() as client:
        assert client.get("/?user=ada").json() == {"user": "ada", "got": "ada", "has": True}
        assert client.get("/").json() == {"user": None, "got": None, "has": False}


# --- content type, length and negotiation ---------------------------------------------------


@pytest.mark.parametrize(
    ("header", "content_type", "is_json"),
    [
        ("application/json", "application/json", True),
        ("Application/JSON; charset=UTF-8", "application/json", True),
        ("application/vnd.api+json", "application/vnd.api+json", True),
        ("application/problem+json; charset=utf-8", "application/problem+json", True),
        ("text/plain; charset=utf-8", "text/plain", False),
        ("application/jsonp", "application/jsonp", False),
        ("text/json+xml", "text/json+xml", False),
        (None, "", False),
    ],
)
def test_content_type_and_is_json(
    client: TestClient, header: str | None, content_type: str, is_json: bool
) -> None:
    headers = {"content-type": header} if header is not None else {}
    r = client.post("/meta", content=b"{}", headers=headers)
    assert r.json() == {"content_type": content_type, "is_json": is_json, "content_length": 2}


def test_content_length_is_none_for_a_chunked_body(client: TestClient) -> None:
    r = client.post("/meta", content=chunked(10))
    assert r.json()["content_length"] is None


def test_content_length_of_an_empty_body(client: TestClient) -> None:
    assert client.post("/meta", content=b"").json()["content_length"] == 0


@pytest.mark.parametrize(
    ("accept", "offers", "best"),
    [
        (None, ["text/html", "application/json"], "text/html"),
        ("*/*", ["application/json", "text/html"], "application/json"),
        (
            "text/html;q=0.5, application/json",
            ["text/html", "application/json"],
            "application/json",
        ),
        ("text/*", ["application/json", "text/plain"], "text/plain"),
        ("application/json", ["text/html"], None),
        ("text/html;q=0, */*", ["text/html"], None),
        ("text/html;q=0, */*", ["text/html", "application/json"], "application/json"),
        ("text/*;q=0.1, text/html;q=0.9, */*;q=0.5", ["text/plain", "image/png"], "image/png"),
        ("text/*;q=0.1, text/html;q=0.9, */*;q=0.5", ["text/plain", "text/html"], "text/html"),
        ("APPLICATION/JSON", ["application/json"], "application/json"),
        (
            "text/html;level=1;q=0.4, application/json;q=0.9",
            ["text/html", "application/json"],
            "application/json",
        ),
        ("application/json;q=bogus", ["application/json"], None),
    ],
)
def test_accepts(
    client: TestClient, accept: str | None, offers: list[str], best: str | None
) -> None:
    if accept is None:
        del client.headers["accept"]  # httpx sends */* unless told otherwise
        headers = {}
    else:
        headers = {"accept": accept}
    r = client.get("/accepts", params={"offer": offers}, headers=headers)
    assert r.json() == {"best": best}


# --- the body -------------------------------------------------------------------------------


def test_body_can_be_read_by_middleware_and_again_by_the_handler() -> None:
    app = make_app()
    seen: list[bytes] = []

    @app.use
    async def audit(req: Request, call_next: CallNext) -> Response:
        seen.append(await req.body())
        return await call_next(req)

    @app.post("/raw")
    async def raw(req: Request) -> dict[str, Any]:
        first = await req.body()
        chunks = [chunk async for chunk in req.stream()]
        return {"body": first.decode(), "again": (await req.body()).decode(), "chunks": len(chunks)}

    @app.post("/json")
    async def json_(req: Request) -> Any:
        return await req.json()

    @app.post("/form")
    async def form(req: Request) -> dict[str, str | None]:
        data = await req.form()
        value = data.get("a")
        return {"a": value if isinstance(value, str) else None}

    with app.test_client() as client:
        assert client.post("/raw", content=b"hello").json() == {
            "body": "hello",
            "again": "hello",
            "chunks": 1,
        }
        assert client.post("/json", json={"k": [1, 2]}).json() == {"k": [1, 2]}
        assert client.post("/form", data={"a": "b c"}).json() == {"a": "b c"}
    assert seen == [b"hello", b'{"k":[1,2]}', b"a=b+c"]


@pytest.mark.parametrize("size", [0, 5, 200_000])
def test_stream_yields_the_body_in_chunks(client: TestClient, size: int) -> None:
    r = client.post("/stream", content=b"x" * size)
    assert r.json()["size"] == size
    if size > 64 * 1024:
        assert r.json()["chunks"] > 1  # delivered as it arrives, not joined first


def test_stream_is_limited_too(client: TestClient) -> None:
    r = client.post("/stream", content=chunked(MiB + 1))
    assert r.status_code == 413


@pytest.mark.parametrize("send_chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/body", MiB, 200),  # exactly the app's limit of 1 MiB
        ("/body", MiB + 1, 413),
        ("/small", 10_000, 200),  # "10KB" is 10,000 bytes: stricter than the app
        ("/small", 10_001, 413),
        ("/large", MiB + 1, 200),  # "2MB": looser than the app
        ("/large", 2_000_000, 200),
        ("/large", 2_000_001, 413),
    ],
)
def test_body_limits(
    client: TestClient, path: str, size: int, status: int, send_chunked: bool
) -> None:
    content = chunked(size) if send_chunked else b"x" * size
    r = client.post(path, content=content)
    assert r.status_code == status
    if status == 200:
        assert r.json()["size"] == size
    else:
        limit = {"/body": MiB, "/small": 10_000, "/large": 2_000_000}[path]
        assert detail(r) == f"request body is larger than the limit of {limit} bytes"


def test_app_body_limit_is_configurable() -> None:
    app = make_app(MAX_BODY_SIZE="1KiB")
    add_routes(app)
    with app.test_client() as client:
        assert client.post("/body", content=b"x" * 1024).status_code == 200
        assert client.post("/body", content=b"x" * 1025).status_code == 413
        assert client.post("/large", content=b"x" * 5000).status_code == 200  # route wins


@pytest.mark.parametrize(
    "headers",
    [
        {"content-length": "abc"},
        {"content-length": "-1"},
        {"content-length": "+3"},
        {"content-length": "0x3"},
        {"content-length": "1_0"},
        {"content-length": ""},
        [("content-length", "3"), ("content-length", "4")],
    ],
    ids=["abc", "negative", "plus", "hex", "underscore", "empty", "conflicting"],
)
def test_malformed_content_length_is_400(
    client: TestClient, headers: dict[str, str] | list[tuple[str, str]]
) -> None:
    r = client.post("/body", content=b"abc", headers=headers)
    assert r.status_code == 400
    assert "Content-Length" in detail(r)


# --- the body limit, seen from the server side (raw ASGI) ------------------------------------


class RawResult:
    def __init__(self) -> None:
        self.status = 0
        self.body = b""
        self.receive_calls = 0
        self.bytes_delivered = 0


async def call_asgi(
    app: Kettle, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> RawResult:
    """POST ``chunks`` to ``/body`` as ASGI messages and record how many kettle asked for."""
    result = RawResult()
    pending = list(chunks)
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/body",
        "raw_path": b"/body",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }

    async def receive() -> Message:
        result.receive_calls += 1
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        result.bytes_delivered += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
        else:
            result.body += message.get("body", b"")

    await app(scope, receive, send)
    return result


def test_content_length_over_the_limit_is_413_before_reading() -> None:
    app = make_app(MAX_BODY_SIZE=1000)
    add_routes(app)
    result = asyncio.run(call_asgi(app, [(b"content-length", b"10000000000")], [b"x" * 100] * 10))
    assert result.status == 413
    assert result.receive_calls == 0


@pytest.mark.parametrize("chunk", [1, 100, 999])
def test_chunked_body_over_the_limit_stops_after_one_chunk_too_many(chunk: int) -> None:
    app = make_app(MAX_BODY_SIZE=1000)
    add_routes(app)
    result = asyncio.run(
        call_asgi(app, [(b"transfer-encoding", b"chunked")], [b"x" * chunk] * (5000 // chunk + 1))
    )
    assert result.status == 413
    assert result.bytes_delivered <= 1000 + chunk


def test_content_length_that_lies_low_is_still_limited_while_reading() -> None:
    app = make_app(MAX_BODY_SIZE=1000)
    add_routes(app)
    result = asyncio.run(call_asgi(app, [(b"content-length", b"10")], [b"x" * 600] * 5))
    assert result.status == 413
    assert result.bytes_delivered <= 1600


# --- JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.api+json",
        "application/merge-patch+json",
    ],
)
def test_json(client: TestClient, content_type: str) -> None:
    body = '{"name": "Ada", "tags": ["é", null], "n": 1.5, "ok": true}'.encode()
    r = client.post("/json", content=body, headers={"content-type": content_type})
    assert r.status_code == 200
    assert r.json() == {"value": {"name": "Ada", "tags": ["é", None], "n": 1.5, "ok": True}}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"a": 1', id="truncated"),
        pytest.param(b"{'a': 1}", id="single-quotes"),
        pytest.param(b"nul", id="bad-literal"),
        pytest.param(b'{"a": NaN}', id="nan"),
        pytest.param(b'"\xff"', id="invalid-utf8"),
        pytest.param(b"[1] [2]", id="trailing-data"),
        pytest.param(b"   ", id="whitespace-only"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="arrays-100000-deep"),
        pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="objects-100000-deep"),
        pytest.param(b"1" * 1_000_000, id="million-digit-int"),
        pytest.param(b"-" + b"9" * 1_000_000, id="million-digit-negative"),
        pytest.param(b'{"n": ' + b"7" * 1_000_000 + b"}", id="million-digit-nested"),
    ],
)
def test_invalid_json_is_400(client: TestClient, body: bytes) -> None:
    r = client.post("/json", content=body, headers=JSON)
    assert r.status_code == 400
    assert detail(r).startswith("invalid JSON: ")


def test_empty_json_body_is_400(client: TestClient) -> None:
    r = client.post("/json", content=b"", headers=JSON)
    assert r.status_code == 400
    assert detail(r) == "invalid JSON: the body is empty"


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"content-type": "text/plain"}, "text/plain"),
        (
            {"content-type": "application/x-www-form-urlencoded"},
            "application/x-www-form-urlencoded",
        ),
        ({"content-type": "multipart/form-data; boundary=x"}, "multipart/form-data"),
        ({"content-type": "text/json"}, "text/json"),
        ({}, "none"),
    ],
)
def test_json_from_a_non_json_content_type_is_415(
    client: TestClient, headers: dict[str, str], named: str
) -> None:
    r = client.post("/json", content=b'{"a": 1}', headers=headers)
    assert r.status_code == 415
    assert detail(r).endswith(f"got {named}")


# --- forms ----------------------------------------------------------------------------------


def test_urlencoded_form(client: TestClient) -> None:
    r = client.post("/form", content=b"a=1&a=2&blank=&c=x+y%21&e=caf%C3%A9", headers=URLENCODED)
    assert r.json() == {
        "fields": {"a": ["1", "2"], "blank": [""], "c": ["x y!"], "e": ["café"]},
        "files": {},
    }


def test_multipart_form_with_a_file(client: TestClient) -> None:
    r = client.post(
        "/form",
        data={"name": "kettle", "tag": ["a", "b"]},
        files={"upload": ("hello.txt", b"hello, world", "text/plain")},
    )
    assert r.status_code == 200
    assert r.json() == {
        "fields": {"name": ["kettle"], "tag": ["a", "b"]},
        "files": {
            "upload": {
                "filename": "hello.txt",
                "content_type": "text/plain",
                "content": "hello, world",
                "size": 12,
            }
        },
    }


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("multipart/form-data", 400),
        ("multipart/form-data; boundary=", 400),
        ("multipart/form-data; charset=utf-8", 400),
        ("application/json", 415),
        ("text/plain", 415),
    ],
)
def test_bad_form_content_type(client: TestClient, content_type: str, status: int) -> None:
    body = b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n'
    r = client.post("/form", content=body, headers={"content-type": content_type})
    assert r.status_code == status
    assert detail(r)


def test_form_over_the_body_limit_is_413(client: TestClient) -> None:
    r = client.post("/form", files={"f": ("big.bin", b"x" * (MiB + 1))})
    assert r.status_code == 413


# --- the worker keeps serving after bad input -------------------------------------------------

BAD_INPUTS = [
    pytest.param("POST", "/json", JSON, b'{"a": ', 400, id="malformed-json"),
    pytest.param("POST", "/json", JSON, b"", 400, id="empty-json"),
    pytest.param("POST", "/json", {"content-type": "text/plain"}, b"{}", 415, id="json-as-text"),
    pytest.param("POST", "/json", JSON, b"[" * 100_000, 400, id="deep-json"),
    pytest.param("POST", "/json", JSON, b"1" * 1_000_000, 400, id="huge-number"),
    pytest.param("POST", "/body", {}, b"x" * (MiB + 1), 413, id="body-over-limit"),
    pytest.param("POST", "/small", {}, b"x" * 10_001, 413, id="route-body-over-limit"),
    pytest.param("POST", "/body", {"content-length": "abc"}, b"abc", 400, id="content-length-abc"),
    pytest.param(
        "POST",
        "/form",
        {"content-type": "multipart/form-data"},
        b"--x\r\n\r\n--x--\r\n",
        400,
        id="multipart-no-boundary",
    ),
    pytest.param(
        "POST",
        "/form",
        {"content-type": "multipart/form-data; boundary=x"},
        b"--x\r\nContent-Disposition: form-data; name=",
        400,
        id="multipart-truncated",
    ),
    pytest.param("GET", "/query?x=%zz", {}, b"", 400, id="query-bad-escape"),
    pytest.param("GET", "/query?x=%ff", {}, b"", 400, id="query-bad-utf8"),
    pytest.param(
        "GET", "/query?" + "&".join(["a=1"] * 10_000), {}, b"", 400, id="query-10000-params"
    ),
    pytest.param("GET", "/p/a%00b", {}, b"", 400, id="path-nul"),
    pytest.param("GET", "/p/%2e%2e/%2e%2e/echo", {}, b"", 404, id="path-dot-dot"),
    pytest.param("GET", "/items/abc/x", {}, b"", 404, id="converter-mismatch"),
    pytest.param("GET", "/nowhere/" + "a" * 10_000, {}, b"", 414, id="path-too-long"),
]


@pytest.mark.parametrize(("method", "url", "headers", "content", "status"), BAD_INPUTS)
def test_bad_input_gets_a_clear_4xx_and_the_worker_keeps_serving(
    client: TestClient,
    method: str,
    url: str,
    headers: dict[str, str],
    content: bytes,
    status: int,
) -> None:
    r = client.request(method, url, headers=headers, content=content)
    assert r.status_code == status
    assert detail(r)  # a message, not an empty body
    good = client.post("/json", json={"still": "serving"})
    assert good.status_code == 200
    assert good.json() == {"value": {"still": "serving"}}


def test_path_over_max_path_length_is_414_even_when_a_route_would_match(
    client: TestClient,
) -> None:
    r = client.get("/p/" + "a" * 10_000)
    assert r.status_code == 414


def test_chunked_body_over_the_limit_then_the_next_request_succeeds(client: TestClient) -> None:
    assert client.post("/body", content=chunked(MiB + 1)).status_code == 413
    assert client.post("/body", content=chunked(10)).json() == {"size": 10, "same": True}

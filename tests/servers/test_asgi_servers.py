"""kettle behind real servers: its ASGI adapter on uvicorn, granian and hypercorn, and
its RSGI adapter on granian (``granian-rsgi``), the same app object each time.

Every test runs once per server. Each server is started once per module in a subprocess
on a free loopback port, serves ``app_under_test:app`` and is stopped (its whole process
group) when the module is done. Requests go over real sockets: httpx for ordinary ones,
raw bytes where an HTTP client would tidy the request up before sending it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from .app_under_test import ADMIN_SECRET, BODY_LIMIT, BOOM_DETAIL, SHUTDOWN_MARK
from .serverutil import ALL_SERVERS, RawResponse, Server, raw_request, running_server


@pytest.fixture(scope="module", params=ALL_SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    name: str = request.param
    with running_server(name, tmp_path_factory.mktemp(name)) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30.0) as http:
        yield http


#: For requests kettle answers without reading their body. A server may then close the
#: connection instead of draining the body (hypercorn does, without saying so in the
#: response), so the client must not reuse it.
UNREAD_BODY = {"connection": "close"}


@pytest.fixture(autouse=True)
def still_serving(server: Server) -> Iterator[None]:
    """Whatever a test sent, the server answers the next request normally."""
    yield
    assert server.process.poll() is None, f"{server.name} died:\n{server.log()}"
    response = raw_request(server, "/plaintext")
    assert response.status == 200
    assert response.body == b"Hello, World!"


def assert_error(response: httpx.Response, status: int) -> None:
    """A kettle error response: the status, a JSON body naming it, the app's middleware."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["status"] == status
    assert response.headers["x-kettle-middleware"] == "app"


def assert_raw_error(response: RawResponse, status: int) -> None:
    """:func:`assert_error` for a response read off a socket: kettle answered, not the server."""
    assert response.status == status, (response.status, response.body)
    assert response.headers["content-type"] == "application/json"
    assert msgspec.json.decode(response.body)["error"]["status"] == status
    assert response.headers["x-kettle-middleware"] == "app"


# --- ordinary requests --------------------------------------------------------------------


def test_plaintext(client: httpx.Client) -> None:
    response = client.get("/plaintext")
    assert response.status_code == 200
    assert response.content == b"Hello, World!"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "13"
    assert response.headers["x-kettle-middleware"] == "app"


def test_json(client: httpx.Client) -> None:
    response = client.get("/json", params={"name": "Ada Lovelace", "q": "ä/&="})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.json() == {
        "message": "Hello, World!",
        "query": {"name": "Ada Lovelace", "q": "ä/&="},
    }


def test_path_parameter_is_converted(client: httpx.Client) -> None:
    response = client.get("/users/42")
    assert response.status_code == 200
    assert response.json() == {"id": 42, "type": "int"}


def test_post_echoes_json(client: httpx.Client) -> None:
    payload = {"name": "kettle", "tags": ["fast", "typed"], "n": 3, "nested": {"ok": True}}
    response = client.post("/echo", json=payload)
    assert response.status_code == 200
    assert response.json() == payload


def test_sync_handler_runs_off_the_loop(client: httpx.Client) -> None:
    response = client.get("/sync")
    assert response.status_code == 200
    assert response.json() == {"on_loop": False}


@pytest.mark.parametrize(("path", "prefix"), [("/stream", "chunk"), ("/astream", "achunk")])
def test_streaming_response(client: httpx.Client, path: str, prefix: str) -> None:
    with client.stream("GET", path) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["x-kettle-middleware"] == "app"
        body = b"".join(response.iter_bytes())
    assert body.decode() == "".join(f"{prefix}-{i}\n" for i in range(5))


def test_head_has_headers_and_no_body(client: httpx.Client) -> None:
    response = client.head("/plaintext")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "13"
    assert response.headers["x-kettle-middleware"] == "app"


@pytest.mark.parametrize("path", ["/plaintext", "/json", "/stream", "/astream", "/flask/hello"])
def test_head_sends_no_body_bytes_on_the_wire(server: Server, path: str) -> None:
    response = raw_request(server, path, method="HEAD")
    assert response.status == 200
    assert response.body == b""


def test_request_line_client_and_headers(server: Server, client: httpx.Client) -> None:
    response = client.get("/whoami?x=1&y=%C3%A4", headers=[("x-multi", "a"), ("x-multi", "b")])
    assert response.json() == {
        "client": "127.0.0.1",
        "scheme": "http",
        "url": f"{server.base_url}/whoami?x=1&y=%C3%A4",
        "multi": ["a", "b"],
    }


def test_several_set_cookie_headers(client: httpx.Client) -> None:
    response = client.get("/cookies")
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2
    first, second = sorted(cookies)
    assert first.startswith("first=1;")
    assert "HttpOnly" in first
    assert "SameSite=Lax" in first
    assert "Secure" not in first  # plain http
    assert second.startswith("second=2;")
    assert "HttpOnly" not in second


def test_large_response_body(client: httpx.Client) -> None:
    response = client.get("/big")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(1024 * 1024)
    assert response.content == bytes(range(256)) * 4096


def test_body_read_by_middleware_and_handler(client: httpx.Client) -> None:
    response = client.post("/peek", content=b"0123456789")
    assert response.json() == {"size": 10}
    assert response.headers["x-body-seen-by-middleware"] == "10"


def test_sync_handler_does_not_block_async_requests(server: Server) -> None:
    # /blocked waits in its worker thread until /release, an async route, has run: if the
    # sync handler held the event loop, /release could not be served and /blocked would
    # time out with {"released": false}.
    results: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: results.append(httpx.get(f"{server.base_url}/blocked", timeout=60.0))
    )
    waiter.start()
    try:
        deadline = time.monotonic() + 30
        while waiter.is_alive() and time.monotonic() < deadline:
            assert httpx.get(f"{server.base_url}/release", timeout=30.0).status_code == 200
            waiter.join(0.05)
    finally:
        waiter.join(60)
    assert [r.json() for r in results] == [{"released": True}]


def test_stream_is_closed_when_the_client_goes_away(server: Server, client: httpx.Client) -> None:
    before = client.get("/forever/closed").json()["closed"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET /forever HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while received.count(b"tick") < 3:
            received += sock.recv(65536)
    assert received.startswith(b"HTTP/1.1 200")
    # The generator is infinite: only the server noticing the disconnect ends it.
    deadline = time.monotonic() + 30
    while client.get("/forever/closed").json()["closed"] == before:
        assert time.monotonic() < deadline, f"{server.name} kept streaming to a closed socket"
        time.sleep(0.05)


def test_lifespan_startup_hook_ran(client: httpx.Client) -> None:
    response = client.get("/state")
    assert response.status_code == 200
    assert response.json() == {"started": True}


def test_startup_froze_the_heap(client: httpx.Client) -> None:
    # What startup left alive lives as long as the worker: the collector skips it.
    assert client.get("/gc").json()["frozen"] > 0


def test_gc_freeze_off_leaves_the_heap_to_the_collector(
    server: Server, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp(f"{server.name}-nofreeze")
    with running_server(server.name, workdir, {"KETTLE_GC_FREEZE": "false"}) as other:
        assert httpx.get(f"{other.base_url}/gc").json() == {"frozen": 0}


def test_mounted_router_has_its_middleware_and_urls(client: httpx.Client) -> None:
    response = client.get("/api/items/3")
    assert response.status_code == 200
    assert response.json() == {"item": 3, "url": "/api/items/3"}
    assert response.headers["x-kettle-router"] == "api"
    assert response.headers["x-kettle-middleware"] == "app"
    # The router's middleware is its own: app routes do not get it.
    assert "x-kettle-router" not in client.get("/plaintext").headers


def test_url_for_inside_a_request(client: httpx.Client) -> None:
    response = client.get("/links")
    assert response.json() == {"user": "/users/7", "item": "/api/items/3"}


def test_mounted_flask_app_sees_its_prefix(client: httpx.Client) -> None:
    response = client.get("/flask/")
    assert response.status_code == 200
    assert response.json() == {"script_root": "/flask", "path": "/", "link": "/flask/hello"}
    hello = client.get("/flask/hello")
    assert hello.status_code == 200
    assert hello.text == "hello from flask"
    assert client.get("/flask/nope").status_code == 404


# --- routing answers ------------------------------------------------------------------------


def test_unknown_path_is_404_through_middleware(client: httpx.Client) -> None:
    assert_error(client.get("/no/such/page"), 404)


def test_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    response = client.delete("/plaintext")
    assert_error(response, 405)
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "HEAD"} <= allowed
    assert "DELETE" not in allowed


def test_options_lists_allowed_methods(client: httpx.Client) -> None:
    response = client.options("/slash/")
    assert response.status_code in (200, 204)
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "HEAD", "POST"} <= allowed


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_missing_trailing_slash_redirects_with_308(client: httpx.Client, method: str) -> None:
    response = client.request(method, "/slash", params={"x": "1"})
    assert response.status_code == 308
    assert response.headers["location"] == "/slash/?x=1"
    followed = client.get("/slash", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.text == "slash"


def test_no_redirect_that_would_drop_a_body(client: httpx.Client) -> None:
    response = client.post("/slash", content=b"data", headers=UNREAD_BODY)
    assert_error(response, 404)
    assert "location" not in response.headers


# --- errors -----------------------------------------------------------------------------------


def test_500_has_no_traceback_and_the_log_has_it(server: Server, client: httpx.Client) -> None:
    response = client.get("/boom")
    assert_error(response, 500)
    assert "Traceback" not in response.text
    assert BOOM_DETAIL not in response.text
    assert "boom" not in response.text
    # The details go to the server's log instead.
    assert server.wait_for_log(BOOM_DETAIL), server.log()
    assert "Traceback" in server.log()


def test_keeps_serving_after_many_500s(client: httpx.Client) -> None:
    for _ in range(20):
        assert client.get("/boom").status_code == 500
    assert client.get("/json").status_code == 200


# --- bad input ------------------------------------------------------------------------------


def test_malformed_json_is_400(client: httpx.Client) -> None:
    response = client.post(
        "/echo", content=b'{"a": 1,', headers={"content-type": "application/json"}
    )
    assert_error(response, 400)
    assert "invalid JSON" in response.json()["error"]["detail"]


def test_json_with_wrong_content_type_is_415(client: httpx.Client) -> None:
    response = client.post(
        "/echo", content=b'{"a": 1}', headers={"content-type": "text/plain", **UNREAD_BODY}
    )
    assert_error(response, 415)


def test_body_within_the_limit_is_read(client: httpx.Client) -> None:
    response = client.post("/upload", content=b"x" * BODY_LIMIT)
    assert response.status_code == 200
    assert response.json() == {"size": BODY_LIMIT}


def test_chunked_body_within_the_limit_is_read(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(16):
            yield b"y" * 1024

    response = client.post("/upload", content=chunks())
    assert response.status_code == 200
    assert response.json() == {"size": 16 * 1024}


def test_body_over_the_limit_with_content_length_is_413(client: httpx.Client) -> None:
    request = client.build_request(
        "POST", "/upload", content=b"x" * (BODY_LIMIT + 1), headers=UNREAD_BODY
    )
    assert request.headers["content-length"] == str(BODY_LIMIT + 1)
    assert_error(client.send(request), 413)


def test_body_over_the_limit_without_content_length_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"z" * (BODY_LIMIT // 2)

    request = client.build_request("POST", "/upload", content=chunks(), headers=UNREAD_BODY)
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    assert_error(client.send(request), 413)


def test_declared_body_over_the_limit_is_refused_before_it_is_sent(server: Server) -> None:
    # The client waits for "100 Continue" before sending its gigabyte: kettle answers from
    # Content-Length alone, so the body never has to be sent (or read).
    response = raw_request(
        server,
        "/upload",
        method="POST",
        headers=("Content-Length: 1000000000", "Expect: 100-continue"),
    )
    assert_raw_error(response, 413)


def test_413_from_a_body_reading_middleware_goes_through_app_middleware(
    client: httpx.Client,
) -> None:
    response = client.post("/peek", content=b"x" * (BODY_LIMIT + 1), headers=UNREAD_BODY)
    assert_error(response, 413)


def test_json_over_the_limit_is_413(client: httpx.Client) -> None:
    response = client.post("/echo", json={"data": "x" * BODY_LIMIT}, headers=UNREAD_BODY)
    assert_error(response, 413)


def test_multipart_without_boundary_is_400(client: httpx.Client) -> None:
    response = client.post(
        "/form",
        content=b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--\r\n",
        headers={"content-type": "multipart/form-data", **UNREAD_BODY},
    )
    assert_error(response, 400)


@pytest.mark.parametrize("query", ["a=%zz", "a=%ff", "a=%e2%82", "%ff=1", "a=%"])
def test_bad_query_string_is_400_when_read(server: Server, query: str) -> None:
    assert_raw_error(raw_request(server, f"/json?{query}"), 400)
    # The same query on a route that never reads it is no error: parsing is lazy.
    assert raw_request(server, f"/plaintext?{query}").status == 200


def test_ten_thousand_query_parameters_is_400_when_read(server: Server) -> None:
    query = "&".join(["a=1"] * 10_000)  # 40 KB: under every server's own limit
    assert_raw_error(raw_request(server, f"/json?{query}"), 400)
    assert raw_request(server, f"/plaintext?{query}").status == 200


@pytest.mark.parametrize(
    "target", ["/users/%00", "/plain%00text", "/%00", "/a/%00", "/admin%00", "/flask/%00"]
)
def test_nul_in_path_is_400_or_404(server: Server, target: str) -> None:
    response = raw_request(server, target)
    assert response.status in (400, 404), response.body
    assert ADMIN_SECRET.encode() not in response.body


@pytest.mark.parametrize("target", ["/users/abc", "/users/1.5", "/users/", "/users/1/2"])
def test_converter_mismatch_is_404(client: httpx.Client, target: str) -> None:
    assert_error(client.get(target), 404)


@pytest.mark.parametrize("target", ["/" + "a" * 20_000, "/users/" + "9" * 20_000])
def test_absurdly_long_path_is_414(server: Server, target: str) -> None:
    # 20 KB is under every server's own limit (about 64 KiB), so kettle is the one to say no.
    assert_raw_error(raw_request(server, target), 414)


def test_path_over_the_server_limit_is_refused_without_500(server: Server) -> None:
    response = raw_request(server, "/" + "a" * 100_000)
    assert response.status in (400, 414, 431), (response.status, response.body)


@pytest.mark.parametrize(
    "target",
    [
        "/a/../admin",
        "/a/./../admin",
        "/a/..%2f..%2fadmin",
        "/a/..%2fadmin",
        "/a/%2e%2e/admin",
        "/a/%2E%2E/admin",
        "/a/%2e%2e%2fadmin",
        "/../admin",
        "/./admin",
        "/a/b/../../admin",
        "/users/../admin",
    ],
)
def test_dot_segments_never_reach_another_route(server: Server, target: str) -> None:
    response = raw_request(server, target)
    assert ADMIN_SECRET.encode() not in response.body
    assert response.status in (400, 404), (response.status, response.body)


def test_dot_segment_lookalikes_in_a_parameter_are_fine(client: httpx.Client) -> None:
    response = client.get("/a/..admin")
    assert response.status_code == 200
    assert response.json() == {"name": "..admin"}


@pytest.mark.parametrize(
    ("target", "name"), [("/a/caf%C3%A9", "café"), ("/a/%E2%9C%93", "✓"), ("/a/x%20y", "x y")]
)
def test_percent_encoded_utf8_path_parameter(server: Server, target: str, name: str) -> None:
    response = raw_request(server, target)
    assert response.status == 200
    assert msgspec.json.decode(response.body) == {"name": name}


@pytest.mark.parametrize("target", ["/a/%ff", "/a/%c3", "/a/x%2fy", "/a/%", "/a/%zz", "/%ff"])
def test_odd_path_escapes_are_never_500(server: Server, target: str) -> None:
    response = raw_request(server, target)
    assert response.status < 500, (response.status, response.body)


def test_admin_itself_answers(client: httpx.Client) -> None:
    # The control for the tests above: the route they must not reach does exist.
    response = client.get("/admin")
    assert response.status_code == 200
    assert response.text == ADMIN_SECRET


def test_shutdown_hook_runs_when_the_server_stops(
    server: Server, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A second instance of the same server, stopped here rather than at the module's end.
    with running_server(server.name, tmp_path_factory.mktemp(f"{server.name}-stop")) as other:
        assert SHUTDOWN_MARK not in other.log()
    assert SHUTDOWN_MARK in other.log(), other.log()

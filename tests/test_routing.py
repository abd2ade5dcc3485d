from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kettle import (
    BuildError,
    Converter,
    Kettle,
    Request,
    RouteConflictError,
    Router,
    SetupError,
    url_for,
)
from kettle.testing import TestClient

from .conftest import MakeApp, call_raw


@pytest.fixture
def app(make_app: MakeApp) -> Kettle:
    app = make_app()

    @app.get("/")
    async def index(req: Request) -> str:
        return "index"

    @app.get("/users/<int:id>")
    async def user(req: Request, id: int) -> dict[str, Any]:
        return {"id": id, "type": type(id).__name__}

    @app.get("/users/new")
    async def new_user(req: Request) -> str:
        return "new"

    @app.get("/users/<name>")
    async def user_by_name(req: Request, name: str) -> str:
        return f"name:{name}"

    @app.get("/price/<float:x>")
    async def price(req: Request, x: float) -> dict[str, float]:
        return {"x": x}

    @app.get("/files/<path:rest>")
    async def files(req: Request, rest: str) -> str:
        return f"path:{rest}"

    @app.get("/files/<path:rest>/edit")
    async def edit_file(req: Request, rest: str) -> str:
        return f"edit:{rest}"

    @app.get("/u/<uuid:u>")
    async def by_uuid(req: Request, u: uuid.UUID) -> str:
        return f"uuid:{u.hex}"

    @app.get("/page/<any(about, help):page>")
    async def page(req: Request, page: str) -> str:
        return f"page:{page}"

    @app.get("/slash/")
    async def slash(req: Request) -> str:
        return "slash"

    @app.route("/form", methods=["GET", "POST"])
    async def form(req: Request) -> str:
        return req.method

    return app


@pytest.fixture
def client(app: Kettle) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/", 200, "index"),
        ("/users/new", 200, "new"),  # a static segment beats a converter at the same depth
        ("/users/ada", 200, "name:ada"),
        ("/files/a/b/c.txt", 200, "path:a/b/c.txt"),
        ("/files/a/b/edit", 200, "edit:a/b"),
        ("/u/12345678-1234-5678-1234-567812345678", 200, "uuid:12345678123456781234567812345678"),
        ("/page/about", 200, "page:about"),
        ("/page/other", 404, None),
        ("/u/not-a-uuid", 404, None),
        ("/nope", 404, None),
        ("/files/../etc/passwd", 404, None),
    ],
)
def test_match(client: TestClient, path: str, status: int, text: str | None) -> None:
    response = client.get(path)
    assert response.status_code == status
    if text is not None:
        assert response.text == text


@pytest.mark.parametrize("path", ["/users/..", "/users/.", "/files/a/../../etc", "/users/a\x00b"])
def test_dot_segments_and_nul_never_reach_a_handler(app: Kettle, path: str) -> None:
    # HTTP clients normalise dot segments away, so this goes in as a raw ASGI scope.
    status, _ = asyncio.run(call_raw(app, path))
    assert status in (400, 404)


@pytest.mark.parametrize(("path", "expected"), [("/users/42", 42), ("/users/007", 7)])
def test_int_converter_converts(app: Kettle, path: str, expected: int) -> None:
    assert TestClient(app).get(path).json() == {"id": expected, "type": "int"}


@pytest.mark.parametrize("path", ["/users/-1", "/users/²", "/users/1.5"])
def test_int_converter_refuses_non_digits_but_string_route_takes_them(
    app: Kettle, path: str
) -> None:
    response = TestClient(app).get(path)
    assert response.status_code == 200
    assert response.text.startswith("name:")


@pytest.mark.parametrize(
    ("path", "status"),
    [("/price/3", 200), ("/price/3.25", 200), ("/price/-3", 404), ("/price/x", 404)],
)
def test_float_converter(app: Kettle, path: str, status: int) -> None:
    assert TestClient(app).get(path).status_code == status


def test_head_is_answered_by_get_without_body(app: Kettle) -> None:
    response = TestClient(app).head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "5"


def test_options_lists_allowed_methods(app: Kettle) -> None:
    response = TestClient(app).options("/form")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"


def test_wrong_method_is_405_with_allow(app: Kettle) -> None:
    response = TestClient(app).delete("/users/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert TestClient(app).post("/form").text == "POST"


@pytest.mark.parametrize(
    ("method", "path", "status", "location"),
    [
        ("GET", "/slash", 308, "/slash/"),
        ("HEAD", "/slash", 308, "/slash/"),
        ("GET", "/?x=1", 200, None),
        ("POST", "/slash", 404, None),  # never a redirect that drops the body
        ("GET", "/users/1/", 308, "/users/1"),
    ],
)
def test_trailing_slash_redirects_safe_methods_only(
    app: Kettle, method: str, path: str, status: int, location: str | None
) -> None:
    response = TestClient(app).request(method, path)
    assert response.status_code == status
    assert response.headers.get("location") == location


def test_trailing_slash_redirect_keeps_the_query(app: Kettle) -> None:
    response = TestClient(app).get("/slash?a=1&b=%20")
    assert response.headers["location"] == "/slash/?a=1&b=%20"


def test_strict_slashes_turn_redirects_off(make_app: MakeApp) -> None:
    app = make_app(STRICT_SLASHES=True)

    @app.get("/a/")
    async def a(req: Request) -> str:
        return "a"

    assert TestClient(app).get("/a").status_code == 404


def test_no_scheme_relative_redirect(make_app: MakeApp) -> None:
    app = make_app()

    @app.get("/<name>/")
    async def thing(req: Request, name: str) -> str:
        return name

    # "//evil.com" would get the Location "//evil.com/": another host to a browser.
    from kettle.testing import TestClient

    client = TestClient(app)
    response = client.get("http://testserver//evil.com")
    assert response.status_code == 404
    assert "location" not in response.headers


def test_route_builder_chains_verbs(make_app: MakeApp) -> None:
    app = make_app()

    def list_books(req: Request) -> str:
        return "list"

    def add_book(req: Request) -> tuple[str, int]:
        return "added", 201

    app.route("/books").get(list_books).post(add_book)
    client = TestClient(app)
    assert client.get("/books").text == "list"
    assert client.post("/books").status_code == 201


@pytest.mark.parametrize("verb", ["get", "post", "put", "patch", "delete", "options", "head"])
def test_verb_decorators(make_app: MakeApp, verb: str) -> None:
    app = make_app()

    async def handler(req: Request) -> str:
        return verb

    getattr(app, verb)("/x")(handler)
    response = TestClient(app).request(verb.upper(), "/x")
    assert response.status_code == 200
    if verb != "head":
        assert response.text == verb


def test_conflicting_routes_are_refused_at_registration(make_app: MakeApp) -> None:
    app = make_app()

    @app.get("/u/<int:a>")
    async def first(req: Request, a: int) -> None: ...

    with pytest.raises(RouteConflictError, match=r"first.*second"):

        @app.get("/u/<int:b>")
        async def second(req: Request, b: int) -> None: ...


def test_conflict_across_routers_is_refused_at_finalize(make_app: MakeApp) -> None:
    app = make_app()
    router = Router("r")

    @app.get("/r/x")
    async def one(req: Request) -> None: ...

    @router.get("/x")
    async def two(req: Request) -> None: ...

    app.mount("/r", router)
    with pytest.raises(RouteConflictError, match=r"one.*two"):
        app.finalize()


def test_same_path_different_methods_is_fine(make_app: MakeApp) -> None:
    app = make_app()

    @app.get("/x")
    async def read(req: Request) -> str:
        return "read"

    @app.post("/x")
    async def write(req: Request) -> str:
        return "write"

    client = TestClient(app)
    assert (client.get("/x").text, client.post("/x").text) == ("read", "write")


@pytest.mark.parametrize(
    "pattern", ["nostart", "/a/<int:id", "/<a>-<b>", "/<x>/<x>", "/a/../b", "/<unknown:x>"]
)
def test_bad_patterns_are_setup_errors(make_app: MakeApp, pattern: str) -> None:
    app = make_app()

    async def handler(req: Request, **params: Any) -> None: ...

    with pytest.raises(SetupError):
        app.add_route(pattern, handler)
        app.finalize()


def test_custom_converter(make_app: MakeApp) -> None:
    class ListConverter(Converter):
        weight = 150

        def to_python(self, value: str) -> list[str]:
            return value.split(",")

        def to_url(self, value: Any) -> str:
            return ",".join(value)

    app = make_app()
    app.add_converter("list", ListConverter)

    @app.get("/tags/<list:tags>")
    async def tags(req: Request, tags: list[str]) -> dict[str, list[str]]:
        return {"tags": tags, "url": [req.url_for("tags", tags=["x", "y z"])]}

    assert TestClient(app).get("/tags/a,b").json() == {
        "tags": ["a", "b"],
        "url": ["/tags/x%2Cy%20z"],
    }


def test_routing_cost_does_not_depend_on_route_count(make_app: MakeApp) -> None:
    # 1,000 dynamic routes: the last one is found by walking its own depth, and each trie
    # level holds one converter node however many routes share it.
    app = make_app()
    for i in range(1000):

        async def handler(req: Request, id: int, i: int = i) -> dict[str, int]:
            return {"route": i, "id": id}

        app.add_route(f"/r{i}/<int:id>", handler, name=f"r{i}")
    assert TestClient(app).get("/r999/5").json() == {"route": 999, "id": 5}
    root = app._table._root
    assert len(root.static) == 1000 and all(len(n.dynamic) == 1 for n in root.static.values())


class TestUrlFor:
    def test_builds_with_params_escaping_and_query(self, app: Kettle) -> None:
        assert app.url_for("user", id=5) == "/users/5"
        assert app.url_for("user_by_name", name="a b/c") == "/users/a%20b%2Fc"
        assert app.url_for("files", rest="a b/c") == "/files/a%20b/c"
        assert app.url_for("index", q="x y", tag=["a", "b"]) == "/?q=x+y&tag=a&tag=b"
        assert app.url_for("index", _anchor="top") == "/#top"

    def test_missing_param_or_name(self, app: Kettle) -> None:
        with pytest.raises(BuildError, match="missing path parameter"):
            app.url_for("user")
        with pytest.raises(BuildError, match="no route is named"):
            app.url_for("nope")

    def test_router_names_and_mount_prefix(self, make_app: MakeApp) -> None:
        app = make_app()
        api = Router("api")
        v1 = Router("v1")

        @v1.get("/items/<int:id>")
        async def item(req: Request, id: int) -> dict[str, str]:
            return {"self": url_for("api.v1.item", id=id), "rel": url_for(".item", id=id + 1)}

        api.mount("/v1", v1)
        app.mount("/api", api)
        assert app.url_for("api.v1.item", id=3) == "/api/v1/items/3"
        assert TestClient(app).get("/api/v1/items/3").json() == {
            "self": "/api/v1/items/3",
            "rel": "/api/v1/items/4",
        }

    def test_external_and_root_path(self, make_app: MakeApp) -> None:
        app = make_app(SERVER_NAME="example.com", PREFERRED_URL_SCHEME="https")

        @app.get("/where")
        async def where(req: Request) -> dict[str, str]:
            return {"url": url_for("where", _external=True)}

        assert app.url_for("where", _external=True) == "https://example.com/where"
        from kettle.testing import TestClient

        client = TestClient(app, root_path="/prefix")
        assert client.get("/where").json() == {"url": "http://testserver/prefix/where"}

    def test_outside_a_request_needs_the_app(self, app: Kettle) -> None:
        with pytest.raises(RuntimeError, match="outside a request"):
            url_for("index")

    def test_two_handlers_one_name_is_an_error(self, make_app: MakeApp) -> None:
        app = make_app()

        @app.get("/a", name="same")
        async def a(req: Request) -> None: ...

        @app.get("/b", name="same")
        async def b(req: Request) -> None: ...

        with pytest.raises(SetupError, match="two different handlers are named 'same'"):
            app.finalize()

    def test_one_handler_on_two_paths(self, make_app: MakeApp) -> None:
        app = make_app()

        @app.get("/posts/", name="posts")
        @app.get("/posts/page/<int:page>", name="posts")
        async def posts(req: Request, page: int = 1) -> dict[str, int]:
            return {"page": page}

        assert app.url_for("posts") == "/posts/"
        assert app.url_for("posts", page=2) == "/posts/page/2"


def test_url_for_knows_the_request_in_threads_and_nested_chains(make_app: MakeApp) -> None:
    app = make_app()

    def sync_mw(req: Request, call_next: Any) -> Any:
        response = call_next(req)
        response.headers["x-link"] = url_for("async_view")
        return response

    @app.get("/sync")
    def sync_view(req: Request) -> str:
        return url_for("sync_view", page=2)

    @app.get("/async", middleware=[sync_mw])
    async def async_view(req: Request) -> str:
        return url_for("async_view")

    with TestClient(app, root_path="/root") as client:
        assert client.get("/sync").text == "/root/sync?page=2"
        response = client.get("/async")
        assert (response.text, response.headers["x-link"]) == ("/root/async", "/root/async")

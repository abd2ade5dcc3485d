"""examples/hello: every route through the test client, and both ways of running it."""

from __future__ import annotations

import importlib.util
import itertools
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from tests.servers.serverutil import clean_environment, free_port, serve

from kettle import Kettle, KettleWarning
from kettle.testing import TestClient

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello" / "app.py"
SECRET = "s" * 40
TOKEN = {"authorization": "Bearer let-me-in"}
_loads = itertools.count()


def load_example() -> ModuleType:
    """A fresh copy of the example module (its app and its users), as the environment says."""
    spec = importlib.util.spec_from_file_location(f"hello_example_{next(_loads)}", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Kettle:
    monkeypatch.setenv("KETTLE_SECRET_KEY", SECRET)
    monkeypatch.delenv("KETTLE_DEBUG", raising=False)
    monkeypatch.delenv("HELLO_API_TOKEN", raising=False)
    example: Kettle = load_example().app
    return example


@pytest.fixture
def client(app: Kettle) -> Iterator[TestClient]:
    with app.test_client() as test_client:
        yield test_client


# --- configuration ---------------------------------------------------------------------------


def test_secret_key_from_the_environment(app: Kettle) -> None:
    assert app.debug is False
    app.finalize()
    assert app.config["SECRET_KEY"] == SECRET


def test_without_a_secret_key_it_falls_back_to_debug_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KETTLE_SECRET_KEY", raising=False)
    monkeypatch.delenv("KETTLE_DEBUG", raising=False)
    app: Kettle = load_example().app
    assert app.debug is True
    with pytest.warns(KettleWarning, match="SECRET_KEY is not set"):
        app.finalize()


def test_route_table(app: Kettle) -> None:
    table = {(info.path, info.name, info.methods) for info in app.iter_routes()}
    assert table == {
        ("/", "index", ("GET",)),
        ("/hello/<name>", "hello", ("GET",)),
        ("/users/<int:id>", "show_user", ("GET",)),
        ("/users", "create_user", ("POST",)),
        ("/api/users", "api.list_users", ("GET",)),
    }


# --- the routes ------------------------------------------------------------------------------


def test_index_is_html_with_links_from_url_for(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Hello, world!</h1>" in response.text
    assert 'href="/hello/kettle"' in response.text
    assert 'href="/users/1"' in response.text


def test_index_escapes_the_name(client: TestClient) -> None:
    response = client.get("/", params={"name": "<script>"})
    assert "<h1>Hello, &lt;script&gt;!</h1>" in response.text
    assert "<script>" not in response.text


def test_hello_is_json(client: TestClient) -> None:
    response = client.get("/hello/kettle")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"message": "Hello, kettle!"}


def test_show_user(client: TestClient) -> None:
    response = client.get("/users/2")
    assert response.status_code == 200
    assert response.json() == {"id": 2, "name": "Grace"}


@pytest.mark.parametrize("path", ["/users/99", "/users/abc", "/nowhere", "/api/nowhere"])
def test_not_found_page(client: TestClient, path: str) -> None:
    response = client.get(path, headers=TOKEN)
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert f"Nothing at {path}." in response.text
    assert "server-timing" in response.headers  # 404s go through the app's middleware too


def test_create_user(client: TestClient) -> None:
    response = client.post("/users", json={"name": "  Linus  "})
    assert response.status_code == 201
    assert response.json() == {"id": 3, "name": "Linus"}
    assert response.headers["location"] == "/users/3"
    assert client.get(response.headers["location"]).json() == {"id": 3, "name": "Linus"}


@pytest.mark.parametrize("payload", [{}, {"name": ""}, {"name": "   "}, {"name": 7}, ["Ada"]])
def test_create_user_needs_a_name(client: TestClient, payload: object) -> None:
    response = client.post("/users", json=payload)
    assert response.status_code == 422
    assert response.json()["error"]["detail"] == "a user needs a non-empty 'name'"


def test_create_user_needs_json(client: TestClient) -> None:
    not_json = client.post("/users", content=b"name=Ada", headers={"content-type": "text/plain"})
    assert not_json.status_code == 415
    malformed = client.post(
        "/users", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400


def test_api_needs_the_token(client: TestClient) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "let-me-in"}):
        response = client.get("/api/users", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "send Authorization: Bearer <token>"}
        assert "server-timing" in response.headers


def test_api_lists_users(client: TestClient) -> None:
    response = client.get("/api/users", headers=TOKEN)
    assert response.status_code == 200
    assert response.json() == {
        "users": [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}],
        "self": "/api/users",
    }


def test_api_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETTLE_SECRET_KEY", SECRET)
    monkeypatch.setenv("HELLO_API_TOKEN", "other")
    app: Kettle = load_example().app
    with app.test_client() as client:
        assert client.get("/api/users", headers=TOKEN).status_code == 401
        response = client.get("/api/users", headers={"authorization": "Bearer other"})
        assert response.status_code == 200


def test_only_the_router_needs_the_token(client: TestClient) -> None:
    assert client.get("/users/1").status_code == 200


# --- middleware and hooks --------------------------------------------------------------------


def test_timing_middleware_and_request_id_hook(client: TestClient) -> None:
    response = client.get("/hello/a")
    assert response.headers["server-timing"].startswith("app;dur=")
    float(response.headers["server-timing"].removeprefix("app;dur="))
    generated = response.headers["x-request-id"]
    assert len(generated) == 12
    assert client.get("/hello/a").headers["x-request-id"] != generated


def test_request_id_from_the_client_is_kept(client: TestClient) -> None:
    response = client.get("/", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


# --- running it, as the README says ----------------------------------------------------------


def _kettle_command() -> list[str]:
    script = shutil.which("kettle", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "kettle"]


@pytest.mark.parametrize("how", ["kettle run", "python app.py"])
def test_it_runs_from_the_repository_root(tmp_path: Path, how: str) -> None:
    port = free_port()
    if how == "kettle run":
        command = [*_kettle_command(), "run", "examples.hello.app:app", "--port", str(port)]
    else:
        command = [sys.executable, str(EXAMPLE.relative_to(ROOT))]
    env = {**clean_environment(), "KETTLE_SECRET_KEY": SECRET, "PORT": str(port)}
    log_path = tmp_path / "server.log"
    with serve(how, command, port=port, cwd=ROOT, env=env, log_path=log_path) as server:
        response = httpx.get(f"{server.base_url}/hello/world", timeout=30)
        assert response.status_code == 200
        assert response.json() == {"message": "Hello, world!"}
        assert "server-timing" in response.headers

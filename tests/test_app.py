"""Kettle: finalize, lifespan, state, config and mounting; mirrors kettle/app.py."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any

import flask
import pytest

import kettle
from kettle import ConfigError, Kettle, KettleWarning, Request, Router, SetupError
from kettle.testing import TestClient

from .conftest import MakeApp


def test_public_names_are_unique_and_importable() -> None:
    # The order is ruff's (RUF022: constants, classes, then functions, each sorted).
    assert len(set(kettle.__all__)) == len(kettle.__all__)
    for name in kettle.__all__:
        assert getattr(kettle, name) is not None


class TestFinalize:
    def test_first_request_finalizes_and_registration_then_fails(self, make_app: MakeApp) -> None:
        app = make_app()

        @app.get("/")
        async def index(req: Request) -> str:
            return "ok"

        with TestClient(app) as client:
            assert client.get("/").text == "ok"

        async def late(req: Request) -> None: ...

        attempts: list[Callable[[], object]] = [
            lambda: app.add_route("/late", late),
            lambda: app.use(late),
            lambda: app.before_request(late),
            lambda: app.errorhandler(404)(late),
            lambda: app.mount("/r", Router("r")),
            lambda: app.on_startup(late),
        ]
        for attempt in attempts:
            with pytest.raises(SetupError, match="already finalized"):
                attempt()

    def test_routers_freeze_with_the_app(self, make_app: MakeApp) -> None:
        app = make_app()
        router = Router("r")
        app.mount("/r", router)
        app.finalize()
        with pytest.raises(SetupError, match="already finalized"):
            router.get("/x")(lambda req: None)

    def test_missing_secret_key_in_production_is_a_startup_error(self) -> None:
        app = Kettle(__name__)
        with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
            app.finalize()

    def test_debug_gets_an_ephemeral_key_with_a_warning(self) -> None:
        app = Kettle(__name__, debug=True)
        with pytest.warns(KettleWarning):
            app.finalize()
        assert len(app.config["SECRET_KEY"]) >= 32

    def test_bad_size_setting_refuses_to_start(self, make_app: MakeApp) -> None:
        app = make_app(MAX_BODY_SIZE="10MBx")
        with pytest.raises(ConfigError, match="10MBx"):
            app.finalize()

    def test_iter_routes(self, make_app: MakeApp) -> None:
        app = make_app()
        api = Router("api")

        @api.route("/items", methods=["GET", "POST"])
        async def items(req: Request) -> None: ...

        app.mount("/api", api)
        (route,) = app.iter_routes()
        assert (route.methods, route.path, route.name, route.handler) == (
            ("GET", "POST"),
            "/api/items",
            "api.items",
            items,
        )


class TestLifespan:
    def test_startup_shutdown_and_lifespan_context(self, make_app: MakeApp) -> None:
        app = make_app()
        log: list[str] = []

        @app.lifespan
        @contextlib.asynccontextmanager
        async def resources(app: Kettle) -> AsyncIterator[None]:
            log.append("enter")
            app.state.pool = "pool"
            yield
            log.append("exit")

        @app.on_startup
        async def warm() -> None:
            log.append("startup")

        @app.on_shutdown
        def bye() -> None:
            log.append("shutdown")

        @app.get("/")
        async def index(req: Request) -> str:
            return str(req.app.state.pool)

        with TestClient(app) as client:
            assert log == ["enter", "startup"]
            assert client.get("/").text == "pool"
        assert log == ["enter", "startup", "shutdown", "exit"]

    def test_overlapping_lifespans_share_one_startup(self, make_app: MakeApp) -> None:
        app = make_app()
        log: list[str] = []
        app.on_startup(lambda: log.append("up"))
        app.on_shutdown(lambda: log.append("down"))
        with TestClient(app):
            with TestClient(app) as second:
                assert second.get("/missing").status_code == 404
            assert log == ["up"]  # the second client's exit does not shut the app down
        assert log == ["up", "down"]
        with TestClient(app):  # after a full shutdown it starts again
            pass
        assert log == ["up", "down", "up", "down"]

    def test_failed_startup_is_reported(self, make_app: MakeApp) -> None:
        app = make_app()

        @app.on_startup
        def broken() -> None:
            raise RuntimeError("database unreachable")

        with pytest.raises(RuntimeError, match="database unreachable"), TestClient(app):
            pass

    def test_test_client_leaves_the_heap_unfrozen(self, make_app: MakeApp) -> None:
        # A test process starts many apps; freezing each would keep every one alive.
        before = gc.get_freeze_count()
        with TestClient(make_app()) as client:
            assert client.get("/missing").status_code == 404
            assert gc.get_freeze_count() == before

    @pytest.mark.parametrize("setting", [True, False])
    def test_server_startup_freezes_the_heap_until_shutdown(
        self, make_app: MakeApp, setting: bool
    ) -> None:
        app = make_app(GC_FREEZE=setting)
        frozen: list[int] = []
        answers: list[str] = []

        async def serve_lifespan() -> None:
            # What a server sends: the lifespan scope without the test clients' mark.
            inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

            async def receive() -> dict[str, Any]:
                frozen.append(gc.get_freeze_count())
                return inbox.pop(0)

            async def send(message: MutableMapping[str, Any]) -> None:
                answers.append(message["type"])

            await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)

        asyncio.run(serve_lifespan())
        assert answers == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert frozen[0] == 0
        assert (frozen[1] > 0) is setting  # after startup, before shutdown
        assert gc.get_freeze_count() == 0  # shutdown gave it back


class TestConfig:
    def test_env_and_arguments(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("KETTLE_MAX_BODY_SIZE", "2MB")
        monkeypatch.setenv("KETTLE_SECRET_KEY", "s" * 32)
        app = Kettle(__name__, config={"MAX_QUERY_PARAMS": 10})
        app.finalize()
        assert app.config["MAX_BODY_SIZE"] == 2_000_000
        assert app.config["MAX_QUERY_PARAMS"] == 10
        assert not app.debug

    def test_route_body_limit_accepts_human_sizes(self, make_app: MakeApp) -> None:
        app = make_app()

        @app.post("/small", max_body_size="10B")
        async def small(req: Request) -> str:
            return str(len(await req.body()))

        with TestClient(app) as client:
            assert client.post("/small", content=b"x" * 11).status_code == 413


class TestMount:
    def test_asgi_app_under_a_prefix(self, make_app: MakeApp) -> None:
        seen: list[dict[str, Any]] = []

        async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
            seen.append({"path": scope["path"], "root_path": scope["root_path"]})
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"raw"})

        app = make_app()
        app.mount("/raw", raw)

        @app.get("/raw/owned")
        async def owned(req: Request) -> str:
            return "kettle"

        with TestClient(app) as client:
            assert client.get("/raw/a/b").text == "raw"
            assert client.get("/raw/owned").text == "kettle"  # kettle's own routes come first
            assert client.get("/rawish").status_code == 404
        assert seen == [{"path": "/raw/a/b", "root_path": "/raw"}]

    def test_flask_app_keeps_working_under_a_prefix(self, make_app: MakeApp) -> None:
        legacy = flask.Flask("legacy")

        @legacy.route("/hello/<name>")
        def hello(name: str) -> str:
            return f"hello {name} at {flask.url_for('hello', name=name)}"

        @legacy.route("/echo", methods=["POST"])
        def echo() -> str:
            return flask.request.get_data(as_text=True)

        app = make_app()
        app.mount("/legacy", legacy)
        with TestClient(app) as client:
            assert client.get("/legacy/hello/ada").text == "hello ada at /legacy/hello/ada"
            assert client.post("/legacy/echo", content=b"body").text == "body"

    def test_not_an_app_is_refused(self, make_app: MakeApp) -> None:
        with pytest.raises(SetupError):
            make_app().mount("/x", object())

    @pytest.mark.parametrize("prefix", ["api", "/u/<int:id>"])
    def test_prefixes_are_literal_and_absolute(self, make_app: MakeApp, prefix: str) -> None:
        with pytest.raises(SetupError, match="prefix"):
            make_app().mount(prefix, Router("r"))

    def test_root_path_from_the_server(self, make_app: MakeApp) -> None:
        app = make_app()

        @app.get("/where")
        async def where(req: Request) -> dict[str, str]:
            return {
                "path": req.path,
                "root": req.root_path,
                "url": str(req.url),
                "link": req.url_for("where"),
            }

        with TestClient(app, root_path="/mounted") as client:
            assert client.get("/where").json() == {
                "path": "/where",
                "root": "/mounted",
                "url": "http://testserver/mounted/where",
                "link": "/mounted/where",
            }


def test_config_file_then_env_then_arguments(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "kettle.toml"  # type: ignore[operator]
    path.write_text(
        'secret_key = "from-the-file-0123456789"\nmax_body_size = "5KB"\nmax_query_params = 5\n'
    )
    monkeypatch.setenv("KETTLE_MAX_QUERY_PARAMS", "7")
    app = Kettle(__name__, config_file=path, config={"STRICT_SLASHES": True})
    app.finalize()
    assert app.config["SECRET_KEY"] == "from-the-file-0123456789"
    assert app.config["MAX_BODY_SIZE"] == 5000
    assert app.config["MAX_QUERY_PARAMS"] == 7
    assert app.config["STRICT_SLASHES"] is True
    monkeypatch.setenv("KETTLE_CONFIG_FILE", str(path))
    assert Kettle(__name__).config["MAX_BODY_SIZE"] == "5KB"  # normalised at finalize

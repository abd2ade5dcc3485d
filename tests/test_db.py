"""kettle.db against real databases: a SQLite file and the local PostgreSQL server.

Every test that touches a database runs twice, once per backend. PostgreSQL tests work in
a schema of their own, created for the test run and dropped after it; when the server is
down they fail, saying so, rather than skip.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import String, event, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import QueuePool

from kettle import ConfigError, Kettle, Request, Response, SetupError, abort
from kettle.db import DEFAULT_URL, Database
from kettle.testing import AsyncTestClient, TestClient

from .conftest import MakeApp, call_raw

POSTGRES_URL = os.environ.get(
    "KETTLE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "kettle_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200), unique=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- backends -----------------------------------------------------------------------------


async def _postgres(statement: str) -> None:
    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is needed by these tests and is not reachable at {dsn}: {exc!r}. "
            "Start it, or point KETTLE_TEST_POSTGRES_URL at a server.",
            pytrace=False,
        )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A schema of this test run's own, so that runs never see each other's tables."""
    schema = f"kettle_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres(f"CREATE SCHEMA {schema}"))
    yield schema
    asyncio.run(_postgres(f"DROP SCHEMA {schema} CASCADE"))


@dataclass
class Backend:
    name: str
    url: str
    engine_options: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'test.db'}")
    schema = request.getfixturevalue("pg_schema")
    # The plain postgresql:// URL on purpose: kettle upgrades it to asyncpg.
    options = {"connect_args": {"server_settings": {"search_path": schema}}}
    return Backend("postgresql", POSTGRES_URL, options)


def make_db(app: Kettle | None, backend: Backend) -> Database:
    return Database(app, backend.url, metadata=Base.metadata, engine_options=backend.engine_options)


@pytest.fixture
def app(make_app: MakeApp) -> Kettle:
    return make_app()


@pytest.fixture
def db(app: Kettle, backend: Backend) -> Iterator[Database]:
    database = make_db(app, backend)
    asyncio.run(database.create_all())
    yield database
    asyncio.run(database.drop_all())


async def _texts(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(Note.text).order_by(Note.id)))


def stored(db: Database) -> list[str]:
    """The notes in the database, read on a loop and engine of the test's own."""
    return asyncio.run(_texts(db))


@dataclass
class PoolWatch:
    """Counts the DBAPI connections the app's engine opens, closes and hands out."""

    engine: AsyncEngine | None = None
    opened: int = 0
    closed: int = 0
    checkouts: int = 0

    def attach(self, engine: AsyncEngine) -> None:
        self.engine = engine
        target = engine.sync_engine
        event.listen(target, "connect", lambda *a: setattr(self, "opened", self.opened + 1))
        event.listen(target, "close", lambda *a: setattr(self, "closed", self.closed + 1))
        event.listen(target, "checkout", lambda *a: setattr(self, "checkouts", self.checkouts + 1))


def checked_out(engine: AsyncEngine | None) -> int:
    """How many of the engine's connections are in use right now."""
    assert engine is not None
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


def watch_pool(app: Kettle, db: Database) -> PoolWatch:
    watch = PoolWatch()
    app.on_startup(lambda: watch.attach(db.engine))
    return watch


# -- the request's session ----------------------------------------------------------------


def add_note_routes(app: Kettle) -> None:
    @app.post("/notes/<name>")
    async def add(req: Request, name: str) -> Any:
        req.db.add(Note(text=name))
        return {"added": name}, 201

    @app.get("/notes")
    async def notes(req: Request) -> Any:
        session: AsyncSession = req.db
        return list(await session.scalars(select(Note.text).order_by(Note.id)))


def test_commit_on_success(app: Kettle, db: Database) -> None:
    add_note_routes(app)
    with TestClient(app) as client:
        assert client.post("/notes/first").status_code == 201
        assert client.get("/notes").json() == ["first"]  # a later request's session
        assert stored(db) == ["first"]  # and a session outside the app


def test_redirect_commits(app: Kettle, db: Database) -> None:
    @app.post("/notes")
    async def add(req: Request) -> Response:
        req.db.add(Note(text="posted"))
        return Response(None, 303, {"location": "/notes"})

    with TestClient(app) as client:
        assert client.post("/notes").status_code == 303
    assert stored(db) == ["posted"]


class Refused(Exception):
    pass


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        ("raise", 500),
        ("abort", 400),
        ("return-400", 400),
        ("handled-as-200", 200),  # an error handler answered, but an error happened
    ],
)
def test_rollback_when_the_request_fails(
    app: Kettle, db: Database, failure: str, status: int
) -> None:
    add_note_routes(app)

    @app.errorhandler(Refused)
    def refused(req: Request, exc: Refused) -> str:
        return "refused, politely"

    @app.post("/notes")
    async def add_doomed(req: Request) -> Any:
        req.db.add(Note(text="doomed"))
        await req.db.flush()  # the INSERT reaches the database; only rollback undoes it
        if failure == "raise":
            raise RuntimeError("handler broke")
        if failure == "abort":
            abort(400)
        if failure == "handled-as-200":
            raise Refused
        return {"error": "no"}, 400

    with TestClient(app) as client:
        assert client.post("/notes").status_code == status
        assert client.get("/notes").json() == []  # the app saw nothing either
    assert stored(db) == []


def test_a_route_without_req_db_opens_nothing(make_app: MakeApp, backend: Backend) -> None:
    opened: list[Request] = []

    class Counting(Database):
        def session_for(self, req: Request) -> AsyncSession:
            opened.append(req)
            return super().session_for(req)

    app = make_app()
    db = Counting(app, backend.url, engine_options=backend.engine_options)
    watch = watch_pool(app, db)

    @app.get("/plain")
    async def plain(req: Request) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/uses-db")
    async def uses_db(req: Request) -> dict[str, int]:
        return {"one": await req.db.scalar(text("SELECT 1"))}

    with TestClient(app) as client:
        assert client.get("/plain").json() == {"ok": True}
        assert client.get("/missing").status_code == 404
        assert opened == [] and watch.checkouts == 0
        assert client.get("/uses-db").json() == {"one": 1}
        assert len(opened) == 1 and watch.checkouts == 1


@pytest.mark.anyio
async def test_concurrent_requests_get_their_own_sessions(app: Kettle, db: Database) -> None:
    sessions: list[AsyncSession] = []
    in_use: list[int] = []
    both_inside = asyncio.Event()

    @app.post("/notes/<name>")
    async def add(req: Request, name: str) -> str:
        session: AsyncSession = req.db
        await session.execute(select(Note))  # holds a connection until the commit
        sessions.append(session)
        if len(sessions) == 2:
            in_use.append(checked_out(db.engine))
            both_inside.set()
        await asyncio.wait_for(both_inside.wait(), 30)
        # Write only now: SQLite lets one writer at a time, and each request would wait
        # for the other's lock while holding its own.
        session.add(Note(text=name))
        return name

    async with AsyncTestClient(app) as client:
        first, second = await asyncio.gather(client.post("/notes/a"), client.post("/notes/b"))
    assert (first.text, second.text) == ("a", "b")
    assert sessions[0] is not sessions[1] and in_use == [2]
    assert sorted(await _texts(db)) == ["a", "b"]


def test_engine_lives_with_the_lifespan(app: Kettle, db: Database) -> None:
    add_note_routes(app)
    watch = watch_pool(app, db)
    with pytest.raises(RuntimeError, match="not open"):
        db.engine  # noqa: B018 - the property raises
    with TestClient(app) as client:
        client.post("/notes/x")
        client.get("/notes")
        engine = db.engine
        assert watch.engine is engine and watch.opened >= 1
        assert checked_out(engine) == 0  # every request gave its connection back
    # Shutdown disposed of the engine: each connection it opened is closed.
    assert watch.closed == watch.opened
    with pytest.raises(RuntimeError, match="not open"):
        db.engine  # noqa: B018


def test_a_second_client_gets_a_fresh_engine(app: Kettle, db: Database) -> None:
    add_note_routes(app)
    engines = []
    app.on_startup(lambda: engines.append(db.engine))
    with TestClient(app) as client:
        client.post("/notes/one")
    with TestClient(app) as client:  # a new loop: the old pool could not serve it
        client.post("/notes/two")
        assert client.get("/notes").json() == ["one", "two"]
    assert engines[0] is not engines[1]


@pytest.mark.anyio
async def test_one_engine_serves_one_loop_at_a_time(
    app: Kettle, db: Database, make_app: MakeApp
) -> None:
    async with db:  # open on this test's loop
        engine = db.engine
        # A TestClient runs the app on a loop of its own, which cannot share the pool.
        with pytest.raises(RuntimeError, match="another event loop"), TestClient(app):
            pass
        with pytest.raises(SetupError, match="engine is open"):
            db.init_app(make_app())
        assert db.engine is engine
    with TestClient(app) as client:  # once it is closed, the app starts
        assert client.get("/missing").status_code == 404


def test_failed_commit_rolls_back_and_answers_500(
    app: Kettle, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    add_note_routes(app)
    with caplog.at_level(logging.ERROR), TestClient(app) as client:
        assert client.post("/notes/same").status_code == 201
        # No flush: the duplicate only fails at the commit, after the handler returned.
        response = client.post("/notes/same")
        assert response.status_code == 500
        assert "IntegrityError" not in response.text  # no details without DEBUG
        assert client.get("/notes").json() == ["same"]
    assert "IntegrityError" in caplog.text and "committing req.db" in caplog.text


def test_failed_commit_reaches_the_error_handlers(app: Kettle, db: Database) -> None:
    add_note_routes(app)

    @app.errorhandler(IntegrityError)
    def conflict(req: Request, exc: IntegrityError) -> tuple[dict[str, str], int]:
        return {"error": "that note exists"}, 409

    with TestClient(app) as client:
        client.post("/notes/same")
        response = client.post("/notes/same")
    assert (response.status_code, response.json()) == (409, {"error": "that note exists"})
    assert stored(db) == ["same"]


def test_a_streamed_body_reads_through_req_db(app: Kettle, db: Database) -> None:
    add_note_routes(app)
    watch = watch_pool(app, db)

    @app.get("/export")
    async def export(req: Request) -> AsyncIterator[str]:
        session: AsyncSession = req.db
        for name in await session.scalars(select(Note.text).order_by(Note.id)):
            yield name + "\n"
        yield "count=" + str(await session.scalar(text("SELECT count(*) FROM kettle_notes")))

    with TestClient(app) as client:
        client.post("/notes/a")
        client.post("/notes/b")
        assert client.get("/export").text == "a\nb\ncount=2"
        assert client.head("/export").status_code == 200
        assert checked_out(watch.engine) == 0


def test_req_db_after_the_db_middleware_is_a_clear_error(
    make_app: MakeApp, backend: Backend
) -> None:
    app = make_app()
    errors: list[str] = []

    @app.use  # registered before Database(app), so it wraps the db middleware
    async def late(req: Request, call_next: Any) -> Response:
        response: Response = await call_next(req)
        try:
            req.db.add(Note(text="late"))
        except RuntimeError as exc:
            errors.append(str(exc))
        return response

    make_db(app, backend)

    @app.get("/")
    async def index(req: Request) -> dict[str, int]:
        return {"one": await req.db.scalar(text("SELECT 1"))}

    with TestClient(app) as client:
        assert client.get("/").json() == {"one": 1}
    assert len(errors) == 1 and "before any middleware that uses req.db" in errors[0]


# -- sync handlers ---------------------------------------------------------------------------


def test_req_db_in_a_sync_handler_says_what_to_do(app: Kettle, db: Database) -> None:
    @app.errorhandler(RuntimeError)
    def show(req: Request, exc: RuntimeError) -> tuple[str, int]:
        return str(exc), 500

    @app.get("/sync")
    def sync_handler(req: Request) -> str:
        return repr(req.db)

    with TestClient(app) as client:
        response = client.get("/sync")
    assert response.status_code == 500
    assert "async def" in response.text and "db.run_sync(req, fn)" in response.text


def test_run_sync_from_a_sync_handler_joins_the_transaction(app: Kettle, db: Database) -> None:
    threads: list[str] = []

    def add_and_count(session: Session, name: str) -> int:
        session.add(Note(text=name))
        session.flush()
        return len(session.scalars(select(Note)).all())

    @app.post("/notes/<name>")
    def add(req: Request, name: str) -> dict[str, int]:
        threads.append(threading.current_thread().name)
        count = db.run_sync(req, add_and_count, name)
        if name == "bad":
            abort(400)
        return {"count": count}

    with TestClient(app) as client:
        assert client.post("/notes/good").json() == {"count": 1}
        assert client.post("/notes/bad").status_code == 400
    assert threads[0].startswith("kettle-sync")
    assert stored(db) == ["good"]


def test_run_sync_on_the_loop_points_to_the_async_form(app: Kettle, db: Database) -> None:
    messages: list[str] = []

    @app.get("/")
    async def index(req: Request) -> None:
        try:
            db.run_sync(req, lambda session: None)
        except RuntimeError as exc:
            messages.append(str(exc))

    with TestClient(app) as client:
        assert client.get("/").status_code == 204
    assert "await req.db.run_sync(fn)" in messages[0]


# -- outside requests ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_session_outside_a_request(backend: Backend) -> None:
    db = make_db(None, backend)  # no app at all: a script or a CLI command
    await db.create_all()
    try:
        async with db.session() as session:
            session.add(Note(text="kept"))
        with pytest.raises(ValueError, match="oops"):
            async with db.session() as session:
                session.add(Note(text="dropped"))
                await session.flush()
                raise ValueError("oops")
        assert await _texts(db) == ["kept"]
    finally:
        await db.drop_all()


@pytest.mark.anyio
async def test_session_in_the_running_app_shares_its_engine(app: Kettle, db: Database) -> None:
    add_note_routes(app)
    seen: list[AsyncEngine] = []

    @app.on_startup
    async def seed() -> None:
        async with db.session() as session:
            session.add(Note(text="seeded"))
            seen.append(session.bind)  # type: ignore[arg-type]

    async with AsyncTestClient(app) as client:
        assert seen == [db.engine]
        async with db.session() as session:  # same loop as the app: same engine
            assert session.bind is db.engine
            session.add(Note(text="from the test"))
        assert (await client.get("/notes")).json() == ["seeded", "from the test"]


@pytest.mark.anyio
async def test_async_with_db_keeps_one_engine(backend: Backend) -> None:
    db = make_db(None, backend)
    async with db:
        engine = db.engine
        await db.create_all()
        async with db.session() as session:
            assert session.bind is engine
        await db.drop_all()
        async with db:  # nested: the outer block owns the engine
            assert db.engine is engine
        assert db.engine is engine
    with pytest.raises(RuntimeError, match="not open"):
        db.engine  # noqa: B018


@pytest.mark.anyio
async def test_create_all_and_drop_all(backend: Backend) -> None:
    db = make_db(None, backend)

    async def has_table() -> bool:
        async with db, db.engine.connect() as conn:
            return bool(await conn.run_sync(lambda c: inspect(c).has_table("kettle_notes")))

    assert not await has_table()
    await db.create_all()
    await db.create_all()  # idempotent
    assert await has_table()
    await db.drop_all()
    assert not await has_table()


@pytest.mark.anyio
async def test_a_server_without_lifespan_still_gets_sessions(app: Kettle, db: Database) -> None:
    add_note_routes(app)
    status, _ = await call_raw(app, "/notes/raw", method="POST")  # no lifespan scope
    assert status == 201
    try:
        assert await _texts(db) == ["raw"]
    finally:
        await db.dispose()  # what shutdown would have done


# -- setup and URLs --------------------------------------------------------------------------


def test_init_app_for_app_factories(make_app: MakeApp, tmp_path: Path) -> None:
    db = Database(metadata=Base.metadata)
    with pytest.raises(SetupError, match="no URL"):
        db.url  # noqa: B018
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'factory.db'}")
    db.init_app(app)
    assert app.extensions["db"] is db and db.app is app
    assert db.url.drivername == "sqlite+aiosqlite"
    assert db.url.database == str(tmp_path / "factory.db")
    with pytest.raises(SetupError, match="already has a Database"):
        Database(app)
    # A factory makes another app (as tests do): the same Database follows it.
    other = make_app(DATABASE_URL="postgresql://db.example/other")
    db.init_app(other)
    assert db.app is other and db.url.drivername == "postgresql+asyncpg"


def test_init_app_after_startup_is_refused(app: Kettle, tmp_path: Path) -> None:
    app.finalize()
    with pytest.raises(SetupError):
        Database(app, f"sqlite:///{tmp_path / 'late.db'}")
    assert "db" not in app.extensions


def test_default_url_is_a_sqlite_file_beside_the_app(app: Kettle) -> None:
    db = Database(app)
    assert DEFAULT_URL == "sqlite:///app.db"
    assert db.url.drivername == "sqlite+aiosqlite"
    assert db.url.database == str(app.root_dir / "app.db")


@pytest.mark.parametrize(
    ("given", "driver", "database"),
    [
        ("sqlite:///site.db", "sqlite+aiosqlite", "<root>/site.db"),
        ("sqlite:///data/site.db", "sqlite+aiosqlite", "<root>/data/site.db"),
        ("sqlite:////var/lib/site.db", "sqlite+aiosqlite", "/var/lib/site.db"),
        ("sqlite://", "sqlite+aiosqlite", None),
        ("sqlite:///:memory:", "sqlite+aiosqlite", ":memory:"),
        ("sqlite:///file:site.db?uri=true", "sqlite+aiosqlite", "file:site.db"),
        ("sqlite+aiosqlite:///site.db", "sqlite+aiosqlite", "<root>/site.db"),
        ("postgresql://u:p@db.example:5432/site", "postgresql+asyncpg", "site"),
        ("postgres://u:p@db.example/site", "postgresql+asyncpg", "site"),
        ("postgresql+asyncpg://db.example/site", "postgresql+asyncpg", "site"),
        ("postgresql+psycopg://db.example/site", "postgresql+psycopg", "site"),
    ],
)
def test_url_upgrade(app: Kettle, given: str, driver: str, database: str | None) -> None:
    app.config["DATABASE_URL"] = given
    db = Database(app)
    assert db.url.drivername == driver
    expected = database.replace("<root>", str(app.root_dir)) if database else database
    assert db.url.database == expected


def test_url_from_the_environment(monkeypatch: pytest.MonkeyPatch, make_app: MakeApp) -> None:
    monkeypatch.setenv("KETTLE_DATABASE_URL", "postgresql://site@db.example/site")
    db = Database(make_app())
    assert db.url.drivername == "postgresql+asyncpg" and db.url.host == "db.example"


def test_url_upgrade_keeps_credentials() -> None:
    db = Database(url="postgres://ada:s%40cret@db.example:6543/site?ssl=require")
    assert db.url.render_as_string(hide_password=False) == (
        "postgresql+asyncpg://ada:s%40cret@db.example:6543/site?ssl=require"
    )
    assert "s%40cret" not in repr(db) and "***" in repr(db)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("postgresql+psycopg2://db.example/site", "postgresql+asyncpg://"),
        ("sqlite+pysqlite:///site.db", "sqlite+aiosqlite://"),
        ("not a url", "invalid DATABASE_URL"),
    ],
)
def test_bad_urls_are_config_errors(given: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Database(url=given)


def test_without_a_database_req_db_says_how_to_add_one(make_app: MakeApp) -> None:
    app = make_app()

    @app.errorhandler(RuntimeError)
    def show(req: Request, exc: RuntimeError) -> tuple[str, int]:
        return str(exc), 500

    @app.get("/")
    async def index(req: Request) -> Any:
        return req.db

    with TestClient(app) as client:
        assert "kettle.db.Database(app, url)" in client.get("/").text

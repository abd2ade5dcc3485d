"""Databases: SQLAlchemy 2 async, with an engine for the app's life and a session per request.

``Database(app)`` opens an engine when the server starts and disposes of it when the server
stops. ``req.db`` is the request's ``AsyncSession``, opened the first time a handler reads
it and never otherwise; kettle commits it when the response is a success and rolls it back
when it is not. ``db.session()``, ``db.create_all()`` and ``db.drop_all()`` serve code that
runs outside requests: startup hooks, CLI commands, scripts and tests.

URLs are the usual ones: ``sqlite:///app.db`` and ``postgresql://user@host/name`` are
upgraded to their async drivers (aiosqlite, asyncpg), and a relative SQLite path is taken
from the app's folder, where its templates live.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, NoReturn, ParamSpec, TypeVar

from .exceptions import ConfigError, SetupError
from .handlers import blocking_await

try:
    from sqlalchemy import MetaData
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError
    from sqlalchemy.ext.asyncio import (
        AsyncEngine,
        AsyncSession,
        async_sessionmaker,
        create_async_engine,
    )
    from sqlalchemy.orm import Session
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"kettle.db needs SQLAlchemy and an async driver: pip install 'kettle[db]' "
        f"(SQLite) or 'kettle[postgres]' ({exc})"
    ) from exc

if TYPE_CHECKING:
    from .app import Kettle
    from .pipeline import CallNext
    from .requests import Request
    from .responses import Response

__all__ = ["DEFAULT_URL", "Database"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

DEFAULT_URL = "sqlite:///app.db"
"""The URL used when neither the ``url`` argument nor ``DATABASE_URL`` gives one: a SQLite
file ``app.db`` in the app's folder."""

# Bare backend names, as people write them, and the async driver kettle uses for each.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",  # the spelling Heroku-style DATABASE_URLs use
}
# Sync drivers named explicitly: an error that says what to write instead.
_SYNC_DRIVERS = {
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+pg8000": "postgresql+asyncpg",
    "postgres+psycopg2": "postgresql+asyncpg",
}
_SYNC_HANDLER = (
    "req.db is an AsyncSession and needs the event loop, which plain `def` handlers and "
    "middleware do not run on: make the function `async def` and await the session's "
    "calls (`await req.db.execute(...)`), or call `db.run_sync(req, fn)` to run "
    "`fn(session)` with a synchronous Session"
)


def _async_url(url: str | URL, root_dir: Path | None = None) -> URL:
    """``url`` with the async driver kettle uses, and a relative SQLite path made absolute.

    ``sqlite:///app.db`` becomes ``sqlite+aiosqlite:///<root_dir>/app.db`` and
    ``postgresql://…`` (or ``postgres://…``) becomes ``postgresql+asyncpg://…``. A URL that
    names a driver is kept, unless the driver is a sync one kettle knows
    (``psycopg2``, ``pg8000``, ``pysqlite``): that is a :class:`~kettle.ConfigError`.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid DATABASE_URL: {exc}") from None
    name = parsed.drivername
    if name in _SYNC_DRIVERS:
        raise ConfigError(
            f"DATABASE_URL names the synchronous driver {name!r}; kettle.db needs an async "
            f"one: write {_SYNC_DRIVERS[name]}:// (or just {name.partition('+')[0]}://)"
        )
    parsed = parsed.set(drivername=_ASYNC_DRIVERS.get(name, name))
    database = parsed.database
    if (
        root_dir is not None
        and parsed.drivername.startswith("sqlite")
        and database
        and database != ":memory:"
        and not database.startswith("file:")  # a SQLite URI (uri=true) says what it means
        and not Path(database).is_absolute()
    ):
        parsed = parsed.set(database=str(root_dir / database))
    return parsed


class _Finished:
    """What ``req.db`` is once the middleware has committed and closed the session."""

    __slots__ = ()

    def __getattr__(self, name: str) -> NoReturn:
        raise RuntimeError(
            "req.db is closed: the response already left kettle.db's middleware, which "
            "committed the session. Register Database(app) before any middleware that "
            "uses req.db after call_next, and do not keep the session past the response"
        )


_FINISHED = _Finished()


class _ClosingStream:
    """A streamed body that closes the request's session once the stream is done.

    A generator handler runs only while its body is sent, so it may open ``req.db`` after
    the middleware has returned; whichever session the request has is closed here.
    """

    __slots__ = ("_iterator", "_req", "_stream")

    def __init__(self, stream: AsyncIterator[bytes], req: Request) -> None:
        self._stream = stream
        self._iterator = stream.__aiter__()
        self._req: Request | None = req

    def __aiter__(self) -> _ClosingStream:
        return self

    async def __anext__(self) -> bytes:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        # The server calls this whether or not the body was iterated (HEAD, disconnects);
        # a bare async generator would skip its `finally` when it never started.
        try:
            aclose = getattr(self._stream, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            req, self._req = self._req, None
            if req is not None:
                session, req._db = req._db, _FINISHED
                if isinstance(session, AsyncSession):
                    await session.close()  # rolls back what the stream did not commit


async def _commit(session: AsyncSession) -> None:
    try:
        await session.commit()
    except Exception as exc:
        exc.add_note("raised by kettle.db committing req.db after the handler returned")
        raise


class Database:
    """SQLAlchemy 2 async for a kettle app: ``req.db``, ``db.session()``, ``db.create_all()``.

    ``Database(app)`` or, for app factories, ``db = Database()`` then ``db.init_app(app)``.
    The URL is ``url``, else the app's ``DATABASE_URL`` setting (``KETTLE_DATABASE_URL``
    in the environment), else :data:`DEFAULT_URL`. ``metadata`` is your models' metadata
    (``Base.metadata`` for ``class Base(DeclarativeBase)``), which :meth:`create_all` and
    :meth:`drop_all` act on. ``engine_options`` go to SQLAlchemy's
    ``create_async_engine`` and ``session_options`` to each ``AsyncSession``; sessions do
    not expire objects on commit unless ``session_options`` says so, because an expired
    attribute would need I/O that async code cannot do implicitly.
    """

    def __init__(
        self,
        app: Kettle | None = None,
        url: str | URL | None = None,
        *,
        metadata: MetaData | None = None,
        engine_options: Mapping[str, Any] | None = None,
        session_options: Mapping[str, Any] | None = None,
    ) -> None:
        #: The models' metadata: what :meth:`create_all` creates.
        self.metadata = metadata if metadata is not None else MetaData()
        #: Keyword arguments for ``create_async_engine``.
        self.engine_options: dict[str, Any] = dict(engine_options or {})
        #: Keyword arguments for each ``AsyncSession``.
        self.session_options: dict[str, Any] = {
            "expire_on_commit": False,
            **(session_options or {}),
        }
        #: The app this database serves (the latest one ``init_app`` attached it to).
        self.app: Kettle | None = None
        self._url_argument = url
        self._url: URL | None = _async_url(url) if url is not None else None
        self._engine: AsyncEngine | None = None
        self._maker: async_sessionmaker[AsyncSession] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._depth = 0  # open scopes: the app's lifespan, `async with db:`
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"<Database {self._url!r}>"  # URL's repr hides the password

    def init_app(self, app: Kettle) -> None:
        """Attach to ``app``: ``req.db``, the lifespan that owns the engine, and the
        middleware that commits or rolls back each request's session.

        Call it before the app starts (registration is closed after that), and before
        adding middleware that uses ``req.db``, so that the session outlives it.
        """
        if "db" in app.extensions:
            raise SetupError("this app already has a Database (app.extensions['db'])")
        if self._engine is not None:
            raise SetupError("init_app() on a Database whose engine is open (in use)")
        url = _async_url(
            self._url_argument or app.config.get("DATABASE_URL") or DEFAULT_URL, app.root_dir
        )
        app.lifespan(self._lifespan)  # refused once the app has started: nothing changes
        app.use(self._middleware)
        app.extensions["db"] = self
        self.app = app
        self._url = url

    @property
    def url(self) -> URL:
        """The database URL in use, with its async driver (a SQLAlchemy ``URL``)."""
        if self._url is None:
            raise SetupError("this Database has no URL yet: pass url= or call init_app(app)")
        return self._url

    @property
    def engine(self) -> AsyncEngine:
        """The app's engine while it is open (from startup to shutdown, or in ``async with
        db:``); a ``RuntimeError`` otherwise.
        """
        if self._engine is None:
            raise RuntimeError(
                "the database engine is not open: it opens with the app's lifespan "
                "(when the server starts) or in `async with db:`"
            )
        return self._engine

    # -- the engine's life ----------------------------------------------------------------

    def _create_engine(self) -> AsyncEngine:
        return create_async_engine(self.url, **self.engine_options)

    def _open(self, loop: asyncio.AbstractEventLoop) -> async_sessionmaker[AsyncSession]:
        if self._engine is None:
            self._engine = self._create_engine()
            self._maker = async_sessionmaker(self._engine, **self.session_options)
            self._loop = loop
        elif self._loop is not loop:
            # A pooled connection belongs to the loop that opened it.
            raise RuntimeError(
                "this Database's engine is open on another event loop (another server or "
                "test client); close that one first"
            )
        assert self._maker is not None
        return self._maker

    async def __aenter__(self) -> Database:
        self._open(asyncio.get_running_loop())
        self._depth += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth <= 0:
            self._depth = 0
            await self.dispose()

    def _lifespan(self, app: Kettle) -> Database:
        return self

    async def dispose(self) -> None:
        """Close the engine and every pooled connection; the next use opens a new one."""
        engine = self._engine
        self._engine = self._maker = self._loop = None
        if engine is not None:
            await engine.dispose()

    @asynccontextmanager
    async def _caller_engine(self) -> AsyncIterator[AsyncEngine]:
        # The app's engine when it is open on this loop; else one just for this call, so
        # that a script or CLI command leaves no connection behind.
        if self._engine is not None and self._loop is asyncio.get_running_loop():
            yield self._engine
            return
        engine = self._create_engine()
        try:
            yield engine
        finally:
            await engine.dispose()

    # -- sessions -----------------------------------------------------------------------

    def session_for(self, req: Request) -> AsyncSession:
        """A new session for ``req`` (``req.db`` calls this once, on first use)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a worker thread: a plain `def` handler or middleware
            raise RuntimeError(_SYNC_HANDLER) from None
        maker = self._maker
        if maker is None or loop is not self._loop:
            # No lifespan ran (a server without one): open on first use.
            maker = self._open(loop)
        return maker()

    async def _middleware(self, req: Request, call_next: CallNext) -> Response:
        response = await call_next(req)
        session: AsyncSession | None = req._db
        if session is not None:
            try:
                # req.error: kettle turns a handler's exception into a response inside the
                # chain, so a failed request may arrive here with any status.
                if req.error is None and response.status_code < 400:
                    await _commit(session)
                else:
                    await session.rollback()
            except BaseException:
                req._db = _FINISHED
                await session.close()  # rolls back; the error handlers answer with a 500
                raise
        if response.stream is None:
            if session is not None:
                await session.close()  # the connection goes back before the body is sent
            # PERF: a request that never read req.db pays a read and this write; the
            # marker turns a later `req.db` into a clear error instead of a leaked session.
            req._db = _FINISHED
        else:
            # A streamed body may still read through req.db; the session ends with it.
            response.stream = _ClosingStream(response.stream, req)
        return response

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """``async with db.session() as s:`` — a session for code outside requests.

        Committed when the block ends normally, rolled back when it raises, always
        closed. It uses the app's engine while the app runs, else an engine of its own
        for the block.
        """
        async with self._caller_engine() as engine:
            session = AsyncSession(engine, **self.session_options)
            try:
                yield session
                await session.commit()
            finally:
                await session.close()  # rolls back whatever was not committed

    def run_sync(
        self,
        req: Request,
        fn: Callable[Concatenate[Session, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """From a plain ``def`` handler: ``fn(session, *args, **kwargs)`` with a sync
        ``Session`` over ``req.db``, run on the event loop; returns what ``fn`` returns.

        The work joins the request's transaction, committed or rolled back with it.
        Finish all loading inside ``fn``: objects' lazy attributes cannot load later.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "db.run_sync() is for plain `def` handlers; in async code use "
                "`await req.db.run_sync(fn)`"
            )

        async def on_loop() -> _T:
            session: AsyncSession = req.db
            return await session.run_sync(fn, *args, **kwargs)

        return blocking_await(on_loop())

    # -- schema -------------------------------------------------------------------------

    async def create_all(self) -> None:
        """Create the tables of :attr:`metadata` that do not exist yet."""
        async with self._caller_engine() as engine, engine.begin() as conn:
            await conn.run_sync(self.metadata.create_all)

    async def drop_all(self) -> None:
        """Drop the tables of :attr:`metadata` that exist."""
        async with self._caller_engine() as engine, engine.begin() as conn:
            await conn.run_sync(self.metadata.drop_all)

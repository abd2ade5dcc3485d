"""The notes site: a small multi-user app built with kettle.

Run it from the repository root (no configuration needed)::

    kettle run examples.notes.app:app

It keeps its data in SQLite under ``examples/notes/instance/`` (created on first start) or,
when ``DATABASE_URL`` (or ``KETTLE_DATABASE_URL``) names one, in PostgreSQL.
``KETTLE_SECRET_KEY`` signs the session cookies; without it the site runs in debug mode
and says so loudly. See README.md beside this file.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from kettle import (
    HTTPError,
    Kettle,
    KettleWarning,
    LoginManager,
    Request,
    redirect,
    render_template,
    url_for,
)
from kettle.cli import pass_app
from kettle.db import Database

from .models import Base, User
from .views.auth import auth
from .views.notes import notes

HERE = Path(__file__).resolve().parent


def create_app(config: Mapping[str, Any] | None = None) -> Kettle:
    """Build a notes app; ``config`` overrides the settings read from ``KETTLE_*`` variables.

    Settings of its own: ``INSTANCE_PATH`` (the folder of the SQLite file and of the
    uploads; ``instance/`` beside this file), ``UPLOAD_FOLDER`` (``<instance>/uploads``),
    ``DATABASE_URL`` and ``DATABASE_ENGINE_OPTIONS`` (keyword arguments for SQLAlchemy's
    engine).
    """
    app = Kettle(__name__, config=config)
    insecure = fall_back_to_debug(app)
    instance = Path(app.config.get("INSTANCE_PATH") or HERE / "instance")
    app.config["INSTANCE_PATH"] = str(instance)
    app.config.setdefault("UPLOAD_FOLDER", str(instance / "uploads"))
    url = (
        app.config.get("DATABASE_URL")
        or os.environ.get("DATABASE_URL")  # the name hosting platforms set
        or f"sqlite:///{instance / 'notes.db'}"
    )
    db = Database(
        app, url, metadata=Base.metadata, engine_options=app.config.get("DATABASE_ENGINE_OPTIONS")
    )

    login = LoginManager(app, login_view="auth.login")

    @login.user_loader
    async def load_user(user_id: str) -> User | None:
        if not user_id.isdigit():
            return None
        async with db.session() as session:
            return await session.get(User, int(user_id))

    app.mount("/", auth)
    app.mount("/notes", notes)
    app.add_route("/", home)
    app.register_error_handler(HTTPError, error_page)
    app.cli.command("init-db")(init_db)

    async def on_startup() -> None:
        if insecure:
            warn_insecure()
        # `kettle run` works on a fresh clone: the tables are created when missing.
        await prepare_storage(app)

    app.on_startup(on_startup)
    return app


def fall_back_to_debug(app: Kettle) -> bool:
    """Turn debug mode on when no secret key is configured; whether it did.

    Without a key kettle refuses to start outside debug mode (sessions could be forged).
    This fallback makes ``kettle run`` work on a fresh machine; it is for laptops only.
    """
    if app.config.get("SECRET_KEY") or app.debug or app.config.get("TESTING"):
        return False
    app.config["DEBUG"] = True
    return True


def warn_insecure() -> None:
    warnings.warn(
        "\n"
        "  ********************************************************************\n"
        "  KETTLE_SECRET_KEY is not set: the notes app runs in DEBUG mode, with\n"
        "  tracebacks in error pages and a throwaway key (everyone is logged out\n"
        "  when it restarts). Fine on your laptop; never serve it like this.\n"
        "  Set a key of 16 characters or more in KETTLE_SECRET_KEY first:\n"
        "    python -c 'import secrets; print(secrets.token_urlsafe(32))'\n"
        "  prints a good one.\n"
        "  ********************************************************************",
        KettleWarning,
        stacklevel=2,
    )


async def prepare_storage(app: Kettle) -> None:
    """Create the instance and upload folders, and the tables that do not exist yet."""
    for key in ("INSTANCE_PATH", "UPLOAD_FOLDER"):
        await asyncio.to_thread(Path(app.config[key]).mkdir, parents=True, exist_ok=True)
    db: Database = app.extensions["db"]
    await db.create_all()


@pass_app
async def init_db(app: Kettle) -> None:
    """Create the database tables (and the instance and upload folders)."""
    await prepare_storage(app)
    db: Database = app.extensions["db"]
    click.echo(f"Initialized the database at {db.url.render_as_string(hide_password=True)}")


async def home(req: Request) -> Any:
    if req.user.is_authenticated:
        return redirect(url_for("notes.index"))
    return render_template("home.html")


async def error_page(req: Request, exc: HTTPError) -> tuple[str, int, dict[str, str]]:
    # Every HTTP error (404, 405, 413, ...) as a page of the site; exc.headers keeps what
    # the status needs, such as Allow on a 405.
    return render_template("error.html", error=exc), exc.status, exc.headers


app = create_app()

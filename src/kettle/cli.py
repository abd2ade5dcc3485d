"""The ``kettle`` command: ``run``, ``routes``, ``new``, ``--version`` and the app's own commands.

``APP`` names the application the way uvicorn and granian do: ``module:attr``, ``module``
alone (the attribute ``app``), or ``module:create_app()`` to call a factory. Dotted
attributes (``module:obj.app``) work too, as does a file name (``app.py``).

An app's own commands — ``@app.cli.command()`` — become ``kettle <command>`` once the
``kettle`` command knows the app: ``kettle --app mysite.app:app init-db``, or with
``KETTLE_APP=mysite.app:app`` in the environment, ``kettle init-db``. The same ``--app``
(or ``KETTLE_APP``) is the default ``APP`` of ``kettle run`` and ``kettle routes``.

A command reaches its app with :func:`pass_app`, and may be ``async def``::

    @app.cli.command("init-db")
    @pass_app
    async def init_db(app: Kettle) -> None:
        await create_tables(app)

To test a command without an import string, hand the app to the ``kettle`` command
itself: ``CliRunner().invoke(kettle.cli.main, ["init-db"], obj=app)``.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import os
import platform
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

import click

from ._loading import describe_error, load_app, parse_target
from ._serve import granian_interface, installed, missing, serve_granian, serve_uvicorn

if TYPE_CHECKING:
    from .app import Kettle

__all__ = ["load_app", "main", "pass_app"]

P = ParamSpec("P")
R = TypeVar("R")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kettle")
    except PackageNotFoundError:
        return "(not installed)"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"kettle {_version()} (Python {platform.python_version()})")
    ctx.exit()


# -- the app's own commands ---------------------------------------------------------------


class _AppSource:
    """Where the ``kettle`` command finds the app, loaded once and only when needed.

    The root context's ``obj``: an ``--app`` import string, else ``$KETTLE_APP``, else an
    app object handed in as ``main(obj=app)`` (tests).
    """

    __slots__ = ("_app", "_error", "import_string")

    def __init__(self, app: Any = None) -> None:
        self.import_string: str | None = None
        self._app = app
        self._error: click.ClickException | None = None

    @property
    def given(self) -> bool:
        return self._app is not None or self.import_string is not None

    def load(self) -> Any:
        if self._app is None:
            if self._error is not None:
                raise self._error
            if self.import_string is None:
                raise click.UsageError("no app given: use --app MODULE:ATTR or set KETTLE_APP")
            try:
                self._app = load_app(self.import_string)
            except click.ClickException as exc:
                self._error = exc  # help and the command lookup ask twice; import once
                raise
        return self._app


def _source(ctx: click.Context) -> _AppSource:
    root = ctx.find_root()
    if not isinstance(root.obj, _AppSource):
        root.obj = _AppSource(root.obj)
    return root.obj


def _set_app(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    _source(ctx).import_string = value or None


def _app_commands(app: Any) -> click.Group | None:
    cli = getattr(app, "cli", None)
    return cli if isinstance(cli, click.Group) else None


def _awaiting(callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback``, with an awaitable result (an ``async def`` command) run to the end."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = callback(*args, **kwargs)
        if inspect.isawaitable(result):
            return asyncio.run(_wait(result))
        return result

    return run


async def _wait(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _runnable(command: click.Command) -> click.Command:
    """A copy of an app command (and of its subcommands) that runs async callbacks.

    Copies, so the app's own command objects stay as the user wrote them.
    """
    command = copy.copy(command)
    if command.callback is not None:
        command.callback = _awaiting(command.callback)
    if isinstance(command, click.Group):
        command.commands = {name: _runnable(sub) for name, sub in command.commands.items()}
    return command


def _current_app(ctx: click.Context | None = None) -> Kettle:
    # The app of the running ``kettle`` command, loaded once; when app.cli is invoked on its
    # own (app.cli.main(obj=app)), the context object is the app itself.
    ctx = ctx or click.get_current_context()
    source = ctx.find_object(_AppSource)
    if source is not None:
        app: Kettle = source.load()
        return app
    obj = ctx.find_root().obj
    if obj is None:
        raise click.UsageError(
            "this command needs its app: run it as `kettle --app MODULE:ATTR COMMAND`"
        )
    return cast("Kettle", obj)


def pass_app(command: Callable[Concatenate[Kettle, P], R]) -> Callable[P, R]:
    """Decorate an app command so that it receives the app as its first argument.

    Put it below ``@app.cli.command()`` (and any ``@click.option``); the command may be
    ``async def``::

        @app.cli.command()
        @pass_app
        def greet(app: Kettle) -> None:
            click.echo(f"Hello from {app.import_name}")
    """

    @functools.wraps(command)
    def with_app(*args: P.args, **kwargs: P.kwargs) -> R:
        return command(_current_app(), *args, **kwargs)

    return with_app


class _KettleGroup(click.Group):
    """The ``kettle`` command: its built-in commands, then those of the app.

    The app named by ``--app`` or ``KETTLE_APP`` is imported only when a command that is
    not built in is asked for, or when the help lists the commands; a built-in command
    wins over an app command of the same name.
    """

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            # After the eager --app wherever it is written (`kettle --help --app x`), so the
            # help lists the app's commands; the group has no required parameters that an
            # eager help would have to get ahead of.
            option.is_eager = False
        return option

    def _app_group(self, ctx: click.Context) -> click.Group | None:
        source = _source(ctx)
        return _app_commands(source.load()) if source.given else None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        group = self._app_group(ctx)
        found = group.get_command(ctx, cmd_name) if group is not None else None
        return _runnable(found) if found is not None else None

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        try:
            group = self._app_group(ctx)
        except click.ClickException:
            group = None  # listing (help, completion) never fails; running a command does
        if group is not None:
            names.update(group.list_commands(ctx))
        return sorted(names)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if (
            not ctx.resilient_parsing
            and not name.startswith("-")
            and not _source(ctx).given
            and super().get_command(ctx, name) is None
        ):
            ctx.fail(
                f"No such command {name!r}. An app's own commands need --app MODULE:ATTR "
                "or KETTLE_APP."
            )
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: list[tuple[str, Mapping[str, click.Command]]] = [("Commands", self.commands)]
        try:
            group = self._app_group(ctx)
        except click.ClickException as exc:
            group = None
            click.echo(f"Error: {exc.format_message()}", err=True)
        if group is not None:
            found = ((name, group.get_command(ctx, name)) for name in group.list_commands(ctx))
            own = {name: cmd for name, cmd in found if cmd and name not in self.commands}
            sections.append((f"Commands of {_source(ctx).import_string or 'the app'}", own))
        for title, commands in sections:
            shown = [(name, cmd) for name, cmd in sorted(commands.items()) if not cmd.hidden]
            if shown:
                limit = formatter.width - 6 - max(len(name) for name, _ in shown)
                with formatter.section(title):
                    rows = [(name, cmd.get_short_help_str(limit)) for name, cmd in shown]
                    formatter.write_dl(rows)


@click.group(cls=_KettleGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show kettle's version and exit.",
)
@click.option(
    "--app",
    metavar="MODULE:ATTR",
    envvar="KETTLE_APP",
    expose_value=False,
    is_eager=True,
    callback=_set_app,
    show_envvar=True,
    help="The app whose commands to add; the default APP of run and routes.",
)
def main() -> None:
    """kettle: run and inspect kettle (and any ASGI) applications, and your app's commands."""


def _missing_app(ctx: click.Context) -> click.UsageError:
    return click.UsageError(
        "Missing argument 'APP': name the app (module:attr) here, with --app, or in KETTLE_APP.",
        ctx,
    )


@main.command()
@click.argument("app", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port."
)
@click.option("--reload", is_flag=True, help="Restart when source files change (development).")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes.",
)
@click.option(
    "--server",
    type=click.Choice(["uvicorn", "granian"]),
    default="uvicorn",
    show_default=True,
    help="Server to run the app with.",
)
@click.option(
    "--interface",
    type=click.Choice(["auto", "asgi", "rsgi"]),
    default="auto",
    show_default=True,
    help="What granian speaks to the app: auto is RSGI for kettle apps (faster), else ASGI.",
)
@click.option("--debug", is_flag=True, help="Debug mode: sets KETTLE_DEBUG=1 for the app.")
@click.option(
    "--limit-concurrency",
    default=2048,
    show_default=True,
    type=click.IntRange(min=0),
    help="Most connections/requests per worker before 503s (uvicorn) or queueing "
    "(granian's backpressure); 0 for no limit.",
)
@click.option(
    "--keep-alive",
    default=5,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seconds an idle keep-alive connection stays open on uvicorn (granian closes idle "
    "connections at --header-timeout; 0 turns its keep-alive off).",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a client may take to send a request's headers before the connection "
    "is closed (uvicorn: kettle's own protocol adds this; granian: its own setting).",
)
@click.option(
    "--graceful-timeout",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds in-flight requests get to finish on shutdown (SIGTERM).",
)
@click.pass_context
def run(
    ctx: click.Context,
    app: str | None,
    host: str,
    port: int,
    reload: bool,
    workers: int,
    server: str,
    interface: str,
    debug: bool,
    limit_concurrency: int,
    keep_alive: int,
    header_timeout: float,
    graceful_timeout: int,
) -> None:
    """Serve APP over HTTP.

    APP is module:attr, module or module:create_app(); without it, the app of --app.
    The server gets kettle's protective defaults (see docs/security.md): a concurrency
    limit, short keep-alive, a header-read timeout where the server has one, a graceful
    shutdown, no ``Server`` header, and no forwarded-header handling of its own (kettle's
    ``TRUSTED_PROXIES`` decides whom to believe).
    """
    # Servers import the app by name in their worker processes, so run needs the name.
    app = app or _source(ctx).import_string
    if app is None:
        raise _missing_app(ctx)
    if reload and workers > 1:
        raise click.UsageError("--reload and --workers cannot be used together")
    if server != "granian" and interface == "rsgi":
        raise click.UsageError(f"--interface rsgi needs --server granian ({server} speaks ASGI)")
    if not installed(server):
        raise missing(server)
    if debug:
        # Before the import, so Kettle(...) reads it from the environment; child
        # processes (workers, the reloader's) inherit it.
        os.environ["KETTLE_DEBUG"] = "1"
    target = parse_target(app)
    # Loading here, even when the server re-imports in its workers, turns a broken app
    # into one clear line before any process is spawned.
    loaded = load_app(app)
    options = {
        "host": host,
        "port": port,
        "reload": reload,
        "workers": workers,
        "limit_concurrency": limit_concurrency,
        "keep_alive": keep_alive,
        "header_timeout": header_timeout,
        "graceful_timeout": graceful_timeout,
    }
    if server == "granian":
        serve_granian(target, options, granian_interface(loaded, interface))
    else:
        serve_uvicorn(loaded, target, options)


def _handler_name(handler: Any) -> str:
    name = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    module = getattr(handler, "__module__", None) or type(handler).__module__
    return f"{module}.{name}"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return [line.rstrip() for line in lines]


@main.command()
@click.argument("app", required=False)
@click.pass_context
def routes(ctx: click.Context, app: str | None) -> None:
    """List APP's routes.

    Shows the methods, path, name and handler of each route; APP defaults to --app.
    """
    source = _source(ctx)
    if app is None and not source.given:
        raise _missing_app(ctx)
    obj = load_app(app) if app else source.load()
    app = app or source.import_string or "the app"
    iter_routes = getattr(obj, "iter_routes", None)
    if not callable(iter_routes):
        raise click.ClickException(f"{app!r} is not a kettle app: it has no iter_routes()")
    try:
        infos = list(iter_routes())
    except Exception as exc:
        raise click.ClickException(
            f"could not list the routes of {app!r}: {describe_error(exc)}"
        ) from None
    rows = [("METHODS", "PATH", "NAME", "HANDLER")]
    rows += [
        (",".join(info.methods), info.path, info.name or "", _handler_name(info.handler))
        for info in infos
    ]
    for line in _table(rows):
        click.echo(line)


@main.command()
@click.argument("name")
def new(name: str) -> None:
    """Create a new project in ./NAME.

    The project has an app package with templates and static files, tests, a
    pyproject.toml, a README and a kettle.toml holding a fresh secret key.
    """
    from .scaffold import create_project, package_name

    try:
        path = create_project(name)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    package = package_name(name)
    click.echo(f"Created {path.name}/, a kettle project (package {package}). Next:\n")
    for line in (
        f"cd {path.name}",
        "python -m pip install -e '.[dev]'",
        "python -m pytest",
        f"kettle run {package}.app:app --reload",
    ):
        click.echo(f"  {line}")
    click.echo("\nSee README.md for more.")


if __name__ == "__main__":
    main()

"""The ``kettle`` command: ``kettle run APP``, ``kettle routes APP`` and ``kettle --version``.

``APP`` names the application the way uvicorn and granian do: ``module:attr``, ``module``
alone (the attribute ``app``), or ``module:create_app()`` to call a factory. Dotted
attributes (``module:obj.app``) work too, as does a file name (``app.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import platform
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import click

__all__ = ["load_app", "main"]


class _Target(NamedTuple):
    """An app import string taken apart."""

    module: str
    attr: str
    factory: bool

    @property
    def import_string(self) -> str:
        """``module:attr`` without the call, the form uvicorn and granian import."""
        return f"{self.module}:{self.attr}"


def _parse_target(import_string: str) -> _Target:
    module, _, attr = import_string.partition(":")
    if module.endswith(".py"):
        # Users often pass the file they see; Python wants the module it defines.
        module = module[:-3].replace(os.sep, ".").replace("/", ".")
    attr = attr or "app"
    factory = attr.endswith("()")
    if factory:
        attr = attr[:-2]
    names = [*module.split("."), *attr.split(".")]
    if not all(name.isidentifier() for name in names):
        raise click.ClickException(
            f"invalid app {import_string!r}: expected 'module:attr', 'module' "
            "or 'module:create_app()'"
        )
    return _Target(module, attr, factory)


def _describe(exc: BaseException) -> str:
    """One line for an exception raised by the user's code: type, message and where."""
    message = " ".join(str(exc).splitlines())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if isinstance(exc, SyntaxError):
        return text  # its message already carries the file and line
    # Point at the deepest line of the user's own project, not at a library frame (a
    # virtualenv inside the project still holds libraries, hence the site-packages test).
    cwd = Path.cwd()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    ours = [
        f
        for f in frames
        if Path(f.filename).is_relative_to(cwd) and "site-packages" not in Path(f.filename).parts
    ]
    if not (ours or frames):
        return text
    frame = (ours or frames)[-1]
    where = Path(frame.filename)
    shown = where.relative_to(cwd) if where.is_relative_to(cwd) else where
    return f"{text} ({shown}, line {frame.lineno})"


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # Only "the module itself is missing" is a bad APP argument; a missing import
        # *inside* the user's module is their bug and gets a location.
        if exc.name is not None and (name == exc.name or name.startswith(f"{exc.name}.")):
            raise click.ClickException(f"could not import {name!r}: {exc}") from None
        raise click.ClickException(f"error while importing {name!r}: {_describe(exc)}") from None
    except Exception as exc:
        raise click.ClickException(f"error while importing {name!r}: {_describe(exc)}") from None


def _check_asgi(import_string: str, target: _Target, obj: Any) -> None:
    if not callable(obj):
        raise click.ClickException(
            f"{import_string!r} is not an ASGI app (got {type(obj).__name__})"
        )
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return  # builtins and C callables: nothing to check, trust the user
    try:
        signature.bind(None, None, None)
    except TypeError:
        hint = ""
        if not target.factory and not signature.parameters:
            hint = f" (a factory? use '{target.import_string}()')"
        raise click.ClickException(
            f"{import_string!r} is not an ASGI app: it does not take (scope, receive, send){hint}"
        ) from None


def load_app(import_string: str) -> Any:
    """Import and return the app named by ``import_string``.

    ``import_string`` is ``module:attr``, ``module`` (meaning ``module:app``) or
    ``module:factory()``, which calls ``factory`` with no arguments and returns its result.
    The current directory is put on ``sys.path`` first, so ``kettle run app:app`` finds
    ``./app.py``. The result must be an ASGI callable (``app(scope, receive, send)``).

    Every failure — a module that does not exist, an error raised while importing it, a
    missing attribute, a factory that raises, something that is not an app — raises
    :class:`click.ClickException` with a one-line message, so the command prints
    ``Error: ...`` and exits with status 1 instead of a traceback.
    """
    target = _parse_target(import_string)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    obj = _import_module(target.module)
    for part in target.attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            hint = f" (name the app with '{target.module}:NAME')" if target.attr == "app" else ""
            raise click.ClickException(
                f"module {target.module!r} has no attribute {target.attr!r}{hint}"
            ) from None
    if target.factory:
        if not callable(obj):
            raise click.ClickException(f"{target.import_string!r} is not callable")
        try:
            obj = obj()
        except Exception as exc:
            raise click.ClickException(
                f"error while calling {import_string!r}: {_describe(exc)}"
            ) from None
    _check_asgi(import_string, target, obj)
    return obj


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show kettle's version and exit.",
)
def main() -> None:
    """kettle: run and inspect kettle (and any ASGI) applications."""


def _missing(server: str) -> click.ClickException:
    return click.ClickException(f"{server} is not installed: pip install 'kettle[{server}]'")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _serve_uvicorn(app: Any, target: _Target, options: dict[str, Any]) -> None:
    try:
        import uvicorn
    except ImportError:
        raise _missing("uvicorn") from None
    # Reload and multiple workers import the app afresh in child processes, so they need
    # the import string; a single process can serve the app object already loaded.
    in_process = not options["reload"] and options["workers"] == 1
    uvicorn.run(
        app if in_process else target.import_string,
        factory=target.factory and not in_process,
        host=options["host"],
        port=options["port"],
        reload=options["reload"],
        workers=options["workers"],
        lifespan="on",
        http="httptools" if _installed("httptools") else "auto",
        loop="uvloop" if _installed("uvloop") else "auto",
    )


def _serve_granian(target: _Target, options: dict[str, Any]) -> None:
    try:
        from granian import Granian
        from granian.constants import Interfaces
    except ImportError:
        raise _missing("granian") from None
    # granian always serves from worker processes, which import the app themselves.
    Granian(
        target.import_string,
        address=options["host"],
        port=options["port"],
        interface=Interfaces.ASGI,
        workers=options["workers"],
        reload=options["reload"],
        factory=target.factory,
        working_dir=Path.cwd(),
    ).serve()


@main.command()
@click.argument("app")
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
    help="ASGI server to run the app with.",
)
@click.option("--debug", is_flag=True, help="Debug mode: sets KETTLE_DEBUG=1 for the app.")
def run(
    app: str, host: str, port: int, reload: bool, workers: int, server: str, debug: bool
) -> None:
    """Serve APP (module:attr, module or module:create_app()) over HTTP."""
    if reload and workers > 1:
        raise click.UsageError("--reload and --workers cannot be used together")
    if not _installed(server):
        raise _missing(server)
    if debug:
        # Before the import, so Kettle(...) reads it from the environment; child
        # processes (workers, the reloader's) inherit it.
        os.environ["KETTLE_DEBUG"] = "1"
    target = _parse_target(app)
    # Loading here, even when the server re-imports in its workers, turns a broken app
    # into one clear line before any process is spawned.
    loaded = load_app(app)
    options = {"host": host, "port": port, "reload": reload, "workers": workers}
    if server == "granian":
        _serve_granian(target, options)
    else:
        _serve_uvicorn(loaded, target, options)


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
@click.argument("app")
def routes(app: str) -> None:
    """List APP's routes: methods, path, name and handler."""
    obj = load_app(app)
    iter_routes = getattr(obj, "iter_routes", None)
    if not callable(iter_routes):
        raise click.ClickException(f"{app!r} is not a kettle app: it has no iter_routes()")
    try:
        infos = list(iter_routes())
    except Exception as exc:
        raise click.ClickException(
            f"could not list the routes of {app!r}: {_describe(exc)}"
        ) from None
    rows = [("METHODS", "PATH", "NAME", "HANDLER")]
    rows += [
        (",".join(info.methods), info.path, info.name or "", _handler_name(info.handler))
        for info in infos
    ]
    for line in _table(rows):
        click.echo(line)


if __name__ == "__main__":
    main()

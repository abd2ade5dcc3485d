"""Loading an app from an import string: ``module:attr``, ``module``, ``module:factory()``.

Shared by every ``kettle`` command; any failure becomes a one-line ``click`` error, never
a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NamedTuple

import click

__all__ = ["Target", "describe_error", "load_app", "parse_target"]


class Target(NamedTuple):
    """An app import string taken apart."""

    module: str
    attr: str
    factory: bool

    @property
    def import_string(self) -> str:
        """``module:attr`` without the call, the form uvicorn and granian import."""
        return f"{self.module}:{self.attr}"


def parse_target(import_string: str) -> Target:
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
    return Target(module, attr, factory)


def _import_failed(name: str, exc: BaseException) -> click.ClickException:
    return click.ClickException(f"error while importing {name!r}: {describe_error(exc)}")


def describe_error(exc: BaseException) -> str:
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
        raise click.ClickException(
            f"error while importing {name!r}: {describe_error(exc)}"
        ) from None
    except Exception as exc:
        raise click.ClickException(
            f"error while importing {name!r}: {describe_error(exc)}"
        ) from None


def _check_asgi(import_string: str, target: Target, obj: Any) -> None:
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
    target = parse_target(import_string)
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
                f"error while calling {import_string!r}: {describe_error(exc)}"
            ) from None
    _check_asgi(import_string, target, obj)
    return obj

"""``kettle new``: write a new, working project from the template shipped with kettle.

The template is package data in ``kettle/project_template/``: every file ends in ``.tmpl``
(so tools never mistake it for kettle's own code), the folder ``package`` becomes the
project's package, ``gitignore`` becomes ``.gitignore``, and markers such as
``[[package]]`` are replaced. A ``kettle.toml`` with a fresh secret key is written beside
them, readable by its owner only and listed in the project's ``.gitignore``.
"""

from __future__ import annotations

import importlib.util
import keyword
import os
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from . import __version__

__all__ = ["create_project", "package_name"]

_TEMPLATE = "project_template"
_SUFFIX = ".tmpl"
_RENAMED = {"package": None, "gitignore": ".gitignore"}  # None: the package's own name
_MARKER = re.compile(r"\[\[(\w+)\]\]")
# A distribution name (PEP 508) that is also a folder name and, once dashes are
# underscores, a module name: letters, digits, dashes and underscores, starting with a
# letter and not ending with a dash or underscore.
_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9_-]*[A-Za-z0-9])?", re.ASCII)
# Names the project's package must not take: it would hide kettle itself or its tests.
_TAKEN = frozenset({"kettle", "tests", "test", "conftest"})
_SETTINGS = """\
# Settings of this checkout, read by {package}/app.py; KETTLE_* environment variables win.
# It holds the secret key that signs session cookies: never commit it (.gitignore lists it)
# and never copy it to a server; set KETTLE_SECRET_KEY there instead.
secret_key = "{key}"
"""


def package_name(name: str) -> str:
    """The package of project ``name``: lower case, dashes as underscores (``my_site``).

    Raises :class:`ValueError`, saying why, for a name that cannot be a project: one that
    is not letters, digits, dashes and underscores starting with a letter, a Python
    keyword, or the name of a module of the standard library or one already installed.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"invalid project name {name!r}: use letters, digits, '-' and '_', starting with "
            "a letter and ending with a letter or digit (for example 'mysite' or 'my-site')"
        )
    package = name.lower().replace("-", "_")
    if keyword.iskeyword(package):
        raise ValueError(f"invalid project name {name!r}: {package!r} is a Python keyword")
    if package in sys.stdlib_module_names or package in _TAKEN:
        raise ValueError(
            f"invalid project name {name!r}: the package {package!r} would hide Python's or "
            "kettle's own module of that name"
        )
    return package


def _shadows_installed(package: str, directory: Path) -> bool:
    if package in sys.modules:
        return True
    # A top-level find_spec only looks along sys.path; it runs no code of the module.
    spec = importlib.util.find_spec(package)
    if spec is None:
        return False
    places = [spec.origin] if spec.origin else list(spec.submodule_search_locations or ())
    # An empty ./NAME on sys.path (the current folder) is found as a namespace package.
    return any(Path(place).resolve() != directory.resolve() for place in places)


def _walk(folder: Traversable, prefix: PurePosixPath) -> Iterator[tuple[PurePosixPath, str]]:
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.is_dir():
            yield from _walk(entry, prefix / entry.name)
        elif entry.name.endswith(_SUFFIX):
            yield prefix / entry.name[: -len(_SUFFIX)], entry.read_text(encoding="utf-8")


def _fill(text: str, values: Mapping[str, str], where: PurePosixPath) -> str:
    def value(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise LookupError(f"unknown marker {match.group(0)} in {where}") from None

    return _MARKER.sub(value, text)


def _render(name: str) -> dict[PurePosixPath, str]:
    """The files of project ``name`` as ``{relative path: text}``, without its settings."""
    package = package_name(name)
    values = {"project": name, "package": package, "kettle_version": __version__}
    rendered: dict[PurePosixPath, str] = {}
    for path, text in _walk(files("kettle").joinpath(_TEMPLATE), PurePosixPath()):
        parts = [(_RENAMED[part] or package) if part in _RENAMED else part for part in path.parts]
        rendered[PurePosixPath(*parts)] = _fill(text, values, path)
    return rendered


def create_project(name: str, parent: str | os.PathLike[str] = ".") -> Path:
    """Write the project ``name`` into ``parent/name`` and return that folder.

    The folder may exist if it is empty. The project is a package (``my-site`` becomes
    ``my_site``) with ``app.py``, templates and static files, tests for kettle's pytest
    plugin, ``pyproject.toml``, ``README.md``, ``.gitignore`` and a ``kettle.toml`` with a
    fresh secret key. Raises :class:`ValueError` for a bad name (see :func:`package_name`)
    and :class:`FileExistsError` when the folder exists and is not empty.
    """
    package = package_name(name)
    directory = Path(parent) / name
    if directory.exists() and not (directory.is_dir() and not any(directory.iterdir())):
        raise FileExistsError(f"{directory} already exists and is not an empty folder")
    if _shadows_installed(package, directory):
        raise ValueError(
            f"invalid project name {name!r}: a module named {package!r} is already installed, "
            "and the project's package would hide it (or be hidden by it)"
        )
    # Everything is rendered before the first write: a broken template leaves no half project.
    rendered = _render(name)
    directory.mkdir(parents=True, exist_ok=True)
    for relative, text in rendered.items():
        target = directory.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    settings = _SETTINGS.format(package=package, key=secrets.token_urlsafe(32))
    # Created readable by its owner only: it holds a secret.
    fd = os.open(directory / "kettle.toml", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(settings)
    return directory

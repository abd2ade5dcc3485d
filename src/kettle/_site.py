"""The site half of a Router: template folders and helpers, and static folders.

Kept apart from ``routing.py`` (routes and middleware) so that each stays one concern;
``Router`` inherits both. Registration only records; ``templating.py`` and
``staticfiles.py`` read these records when the app is finalized or first renders.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def module_dir(import_name: str | None) -> Path:
    """The folder of module ``import_name`` (the working directory when it has none)."""
    module = sys.modules.get(import_name) if import_name else None
    file = getattr(module, "__file__", None)
    return Path(file).resolve().parent if file else Path(os.getcwd())


class SiteParts:
    """Template and static settings shared by ``Kettle`` and ``Router``."""

    def _init_site(
        self,
        import_name: str | None,
        template_folder: str | os.PathLike[str] | None,
        static_folder: str | os.PathLike[str] | None,
        static_url_path: str | None,
    ) -> None:
        self.import_name = import_name
        #: The folder relative paths are resolved against (the module's own folder).
        self.root_dir = module_dir(import_name)
        self.template_folder = template_folder
        self.static_folder = static_folder
        self.static_url_path = static_url_path
        self.context_processors: list[Callable[..., Any]] = []
        self.template_filters: dict[str, Callable[..., Any]] = {}
        self.template_globals: dict[str, Any] = {}
        self.template_tests: dict[str, Callable[..., Any]] = {}

    def _check_open(self, what: str) -> None:  # provided by Router
        raise NotImplementedError

    @property
    def template_dir(self) -> Path | None:
        """The absolute template folder, or ``None`` when there is none."""
        return self.root_dir / self.template_folder if self.template_folder else None

    @property
    def static_dir(self) -> Path | None:
        """The absolute static folder, or ``None`` when there is none."""
        return self.root_dir / self.static_folder if self.static_folder else None

    def context_processor(self, fn: F) -> F:
        """``fn(req) -> dict`` adds names to every template's context (a plain function:
        templates render synchronously)."""
        self._check_open("add a context processor")
        self.context_processors.append(fn)
        return fn

    def template_filter(self, name: str | None = None) -> Callable[[F], F]:
        """Register ``fn`` as the Jinja filter ``name`` (default: its own name)."""

        def decorator(fn: F) -> F:
            self._check_open("add a template filter")
            self.template_filters[name or fn.__name__] = fn
            return fn

        return decorator

    def template_global(self, name: str | None = None) -> Callable[[F], F]:
        """Register ``fn`` as the template global ``name`` (default: its own name)."""

        def decorator(fn: F) -> F:
            self._check_open("add a template global")
            self.template_globals[name or fn.__name__] = fn
            return fn

        return decorator

    def template_test(self, name: str | None = None) -> Callable[[F], F]:
        """Register ``fn`` as the Jinja test ``name`` (default: its own name)."""

        def decorator(fn: F) -> F:
            self._check_open("add a template test")
            self.template_tests[name or fn.__name__] = fn
            return fn

        return decorator

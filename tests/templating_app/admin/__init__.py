"""A router module with a template folder of its own (``admin/templates/``)."""

from __future__ import annotations

from kettle import Router


def make_router(name: str | None = "admin") -> Router:
    """A fresh router each time: a mounted router is frozen once its app is finalized."""
    return Router(name, import_name=__name__, template_folder="templates")

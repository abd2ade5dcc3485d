"""kettle: Flask's simplicity with Express's middleware and non-blocking speed."""

from .datastructures import URL, Address, Headers, MultiDict, MutableHeaders, State
from .exceptions import HTTPError, abort

__all__ = [
    "URL",
    "Address",
    "HTTPError",
    "Headers",
    "MultiDict",
    "MutableHeaders",
    "State",
    "abort",
]

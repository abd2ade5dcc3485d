"""kettle: Flask's simplicity with Express's middleware and non-blocking speed."""

from .app import Kettle
from .config import Config, KettleWarning, parse_size
from .converters import Converter
from .datastructures import URL, Address, Headers, MultiDict, MutableHeaders, State
from .exceptions import (
    BadRequest,
    ClientDisconnect,
    ConfigError,
    Conflict,
    Forbidden,
    HTTPError,
    InternalServerError,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    RouteConflictError,
    ServiceUnavailable,
    SetupError,
    TooManyRequests,
    Unauthorized,
    UnprocessableEntity,
    UnsupportedMediaType,
    URITooLong,
    abort,
)
from .files import FileResponse
from .forms import FormData
from .requests import Request
from .responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    TextResponse,
    redirect,
)
from .routing import Route, RouteInfo, Router
from .templating import render_template, render_template_string, stream_template
from .uploads import UploadFile, secure_filename
from .urls import BuildError, url_for

__version__ = "0.1.0"

__all__ = [
    "URL",
    "Address",
    "BadRequest",
    "BuildError",
    "ClientDisconnect",
    "Config",
    "ConfigError",
    "Conflict",
    "Converter",
    "FileResponse",
    "Forbidden",
    "FormData",
    "HTMLResponse",
    "HTTPError",
    "Headers",
    "InternalServerError",
    "JSONResponse",
    "Kettle",
    "KettleWarning",
    "MethodNotAllowed",
    "MultiDict",
    "MutableHeaders",
    "NotAcceptable",
    "NotFound",
    "PayloadTooLarge",
    "RedirectResponse",
    "Request",
    "RequestTimeout",
    "Response",
    "Route",
    "RouteConflictError",
    "RouteInfo",
    "Router",
    "ServiceUnavailable",
    "SetupError",
    "State",
    "StreamingResponse",
    "TextResponse",
    "TooManyRequests",
    "URITooLong",
    "Unauthorized",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "UploadFile",
    "abort",
    "parse_size",
    "redirect",
    "render_template",
    "render_template_string",
    "secure_filename",
    "stream_template",
    "url_for",
]

"""kettle: Flask's simplicity with Express's middleware and non-blocking speed."""

from .app import Kettle
from .auth import (
    AnonymousUser,
    LoginManager,
    UserMixin,
    fresh_login_required,
    login_required,
    login_user,
    logout_user,
)
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
from .files import FileResponse, send_file
from .flash import flash, get_flashed_messages
from .forms import FormData
from .passwords import (
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_and_update,
    verify_and_update_async,
    verify_password,
    verify_password_async,
)
from .redirects import is_safe_url, safe_redirect
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
from .security import (
    CORS,
    CSRFProtection,
    RateLimit,
    SecurityHeaders,
    csrf_token,
    security_headers,
)
from .sessions import Session, SessionInterface
from .staticfiles import StaticFiles, static_url
from .templating import render_template, render_template_string, stream_template
from .uploads import UploadFile, secure_filename
from .urls import BuildError, url_for

__version__ = "0.1.0"

__all__ = [
    "CORS",
    "URL",
    "Address",
    "AnonymousUser",
    "BadRequest",
    "BuildError",
    "CSRFProtection",
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
    "LoginManager",
    "MethodNotAllowed",
    "MultiDict",
    "MutableHeaders",
    "NotAcceptable",
    "NotFound",
    "PayloadTooLarge",
    "RateLimit",
    "RedirectResponse",
    "Request",
    "RequestTimeout",
    "Response",
    "Route",
    "RouteConflictError",
    "RouteInfo",
    "Router",
    "SecurityHeaders",
    "ServiceUnavailable",
    "Session",
    "SessionInterface",
    "SetupError",
    "State",
    "StaticFiles",
    "StreamingResponse",
    "TextResponse",
    "TooManyRequests",
    "URITooLong",
    "Unauthorized",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "UploadFile",
    "UserMixin",
    "abort",
    "csrf_token",
    "flash",
    "fresh_login_required",
    "get_flashed_messages",
    "hash_password",
    "hash_password_async",
    "is_safe_url",
    "login_required",
    "login_user",
    "logout_user",
    "needs_rehash",
    "parse_size",
    "redirect",
    "render_template",
    "render_template_string",
    "safe_redirect",
    "secure_filename",
    "security_headers",
    "send_file",
    "static_url",
    "stream_template",
    "url_for",
    "verify_and_update",
    "verify_and_update_async",
    "verify_password",
    "verify_password_async",
]

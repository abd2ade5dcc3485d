"""Login: ``req.user``, ``login_user``/``logout_user``, ``@login_required`` and remember-me.

Flask-Login's model with an explicit request. The app's :class:`LoginManager` knows how to
load a user from the id kept in the session (``@login_manager.user_loader``, sync or
async); its middleware loads the user before the handler runs, so ``req.user`` is the
logged-in user or an :class:`AnonymousUser`::

    login_manager = LoginManager(app, login_view="login")

    @login_manager.user_loader
    async def load_user(user_id: str) -> User | None:
        return await find_user(int(user_id))

    @app.route("/login", methods=["GET", "POST"])
    async def login(req):
        if req.method == "POST":
            form = await req.form()
            user = await find_user_by_name(form.get("username"))
            if user and await verify_password_async(user.password_hash, form.get("password", "")):
                login_user(req, user, remember=form.get("remember") == "on")
                return safe_redirect(req.query.get("next"), url_for("index"))
        return render_template("login.html")

    @app.get("/settings")
    @login_required
    async def settings(req):
        return render_template("settings.html", user=req.user)

The session keeps only the user's id (``user.get_id()``). To be able to end every session of
a user (after a password change), make ``get_id()`` return a token that changes with the
password rather than the bare primary key, and look users up by it in the loader.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

from ._current import get_current_request
from ._remember import PENDING, RememberCookie, to_seconds
from .exceptions import SetupError, Unauthorized
from .handlers import blocking_await, is_async_callable
from .requests import Request
from .responses import RedirectResponse, Response
from .staticfiles import StaticFiles

if TYPE_CHECKING:
    from .app import Kettle

__all__ = [
    "AnonymousUser",
    "LoginManager",
    "UserMixin",
    "fresh_login_required",
    "login_fresh",
    "login_required",
    "login_user",
    "logout_user",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Session keys: the logged-in user's id, and whether the login came from a password
#: (``True``) rather than a remember-me cookie (``False``).
USER_ID_KEY = "_user_id"
FRESH_KEY = "_fresh"
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_PASS: Any = object()


class UserMixin:
    """What a user class needs for kettle's login: add it to your model.

    ``get_id()`` returns ``str(self.id)``; override it when the id lives elsewhere.
    """

    @property
    def is_authenticated(self) -> bool:
        """Always ``True`` for a real user."""
        return True

    @property
    def is_active(self) -> bool:
        """Whether the account may log in; override to disable accounts."""
        return True

    @property
    def is_anonymous(self) -> bool:
        """Always ``False`` for a real user."""
        return False

    def get_id(self) -> str:
        """The string kept in the session and handed back to the user loader."""
        try:
            return str(self.id)  # type: ignore[attr-defined]
        except AttributeError:
            raise NotImplementedError(
                f"{type(self).__name__} has no 'id' attribute: override get_id()"
            ) from None


class AnonymousUser:
    """``req.user`` when nobody is logged in."""

    is_authenticated = False
    is_active = False
    is_anonymous = True

    def get_id(self) -> str | None:
        """Anonymous users have no id: ``None``."""
        return None

    def __repr__(self) -> str:
        return "<AnonymousUser>"


class LoginManager:
    """The app's login extension: ``app.extensions["login"]``, behind ``req.user``.

    ``login_view`` is the route name (or path) that ``@login_required`` sends anonymous
    browsers to; without one they get a 401. ``refresh_view`` is where
    ``@fresh_login_required`` sends users who came back through a remember-me cookie
    (``login_view`` when unset).

    Settings read from ``app.config`` on the first request: ``REMEMBER_COOKIE_NAME``
    (``"remember_token"``) and ``REMEMBER_COOKIE_DURATION`` (a timedelta or seconds;
    365 days). The remember cookie is signed with ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS``
    still verify), HttpOnly, SameSite=Lax and Secure on https.
    """

    def __init__(
        self,
        app: Kettle | None = None,
        *,
        login_view: str | None = None,
        refresh_view: str | None = None,
        user_loader: Callable[[str], Any] | None = None,
        anonymous_user: Callable[[], Any] = AnonymousUser,
    ) -> None:
        self.login_view = login_view
        self.refresh_view = refresh_view
        self.anonymous_user = anonymous_user
        self._loader: Callable[[str], Any] | None = None
        self._loader_is_async = False
        self._unauthorized: Callable[[Request], Any] | None = None
        # Filled on the first request, once the app is finalized (see _settings).
        self._sessions = False
        self._session_cookie: str | None = None
        self._remember: RememberCookie | None = None
        if user_loader is not None:
            self.user_loader(user_loader)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Kettle) -> None:
        """Install on ``app``: ``app.extensions["login"]`` and the middleware that loads
        ``req.user``.

        The middleware goes in front of the app's own middleware (after the sessions' own,
        when they have one), so every middleware and hook already sees the user.
        """
        if "login" in app.extensions:
            raise SetupError("the app already has a LoginManager (app.extensions['login'])")
        app._check_open("install a LoginManager")
        app.extensions["login"] = self
        sessions = app.extensions.get("sessions")
        session_mw = getattr(sessions, "middleware", None)
        first = app.middleware[0][1] if app.middleware else None
        position = 1 if session_mw is not None and first == session_mw else 0
        app.middleware.insert(position, (None, self._middleware))

        # Read the settings at startup, so a bad one stops the server rather than failing
        # every request (without a lifespan, the first request reads them).
        def read_login_settings() -> None:
            self._settings(app)

        app.on_startup(read_login_settings)

    def user_loader(self, loader: F) -> F:
        """Register ``loader(user_id: str) -> user | None`` (sync or async).

        An async loader runs on the event loop; a plain ``def`` runs in a worker thread,
        like a plain ``def`` handler. Return ``None`` for an unknown or disabled user to
        log them out.
        """
        self._loader = loader
        self._loader_is_async = is_async_callable(loader)
        return loader

    def unauthorized_handler(self, handler: F) -> F:
        """Register ``handler(req)`` to answer anonymous requests to ``@login_required``
        routes instead of the default redirect or 401; it returns any handler result.
        It runs where the protected handler runs (on the loop for an async handler).
        """
        self._unauthorized = handler
        return handler

    # -- per request -------------------------------------------------------------------

    def user_for(self, req: Request) -> Any:
        """``req.user`` when the middleware has not set one: an anonymous user."""
        return self.anonymous_user()

    async def load_user(self, req: Request, user_id: str) -> Any:
        """The user with ``user_id`` through the user loader, or ``None``."""
        loader = self._loader
        if loader is None:
            raise SetupError(
                "a user is logged in but the LoginManager has no user loader: "
                "decorate one with @login_manager.user_loader"
            )
        if self._loader_is_async:
            return await loader(user_id)
        return await req.app._runner.run(loader, user_id)

    def _settings(self, app: Kettle) -> RememberCookie:
        remember = self._remember
        if remember is None:
            sessions = app.extensions.get("sessions")
            self._sessions = sessions is not None
            self._session_cookie = getattr(sessions, "cookie_name", None)
            remember = self._remember = RememberCookie(app.config)
        return remember

    async def _middleware(self, req: Request, call_next: Any) -> Response:
        remember = self._remember or self._settings(req.app)
        # PERF: a request without any Cookie header (most API traffic, first visits) costs
        # one scan of the raw header pairs: no Headers object, no session load. Static
        # files never need the user, so they never load one (no query per stylesheet).
        route = req.route
        if route is None or getattr(route.handler, "__self__", None).__class__ is not StaticFiles:
            for name, _ in req.scope["headers"]:
                if name == b"cookie":
                    await self._restore(req, remember)
                    break
        response: Response = await call_next(req)
        # PERF: req._state is None unless someone used req.state; no State is built here.
        state = req._state
        if state is not None:
            pending = state.get(PENDING)
            if pending is not None:
                remember.send(response, pending)
        return response

    async def _restore(self, req: Request, remember: RememberCookie) -> None:
        cookies = req.cookies
        name = self._session_cookie
        if self._sessions and (name is None or name in cookies):
            session = req.session
            user_id = session.get(USER_ID_KEY)
            if isinstance(user_id, str):
                user = await self.load_user(req, user_id)
                if user is not None:
                    req.user = user
                    return
                # The user is gone (deleted, disabled): forget the stale login.
                session.pop(USER_ID_KEY, None)
                session.pop(FRESH_KEY, None)
        signed = cookies.get(remember.name)
        if not signed:
            return
        user_id = remember.read(signed)
        user = await self.load_user(req, user_id) if user_id is not None else None
        if user is None:
            remember.drop(req)  # a bad or stale cookie: stop sending it
            return
        if self._sessions:
            # A new login for this browser: a new session id (fixation), marked not fresh.
            session = req.session
            session.regenerate()
            session[USER_ID_KEY] = user_id
            session[FRESH_KEY] = False
        req.user = user

    def remember_cookie(self, req: Request, user_id: str, duration: int | None) -> None:
        """Queue a signed remember-me cookie for ``user_id`` on ``req``'s response."""
        (self._remember or self._settings(req.app)).remember(req, user_id, duration)

    def forget_cookie(self, req: Request) -> None:
        """Queue the deletion of the remember-me cookie on ``req``'s response."""
        (self._remember or self._settings(req.app)).forget(req)

    # -- refusing anonymous users ------------------------------------------------------

    def unauthorized(self, req: Request, view: str | None = None) -> Any:
        """The answer to an anonymous request for a protected route.

        The :meth:`unauthorized_handler` if there is one; else, for a browser (``Accept``
        prefers HTML) and a login view, a redirect there with ``next`` set to this page
        (302 after a GET; 303 otherwise, and without ``next``, since the page cannot be
        fetched back with a GET); else :class:`~kettle.Unauthorized` (401), which the
        app's error handlers answer — JSON for API clients by default.
        """
        if self._unauthorized is not None:
            return self._unauthorized(req)
        view = view or self.login_view
        if view is None or req.accepts("application/json", "text/html") != "text/html":
            raise Unauthorized("you need to log in to see this page")
        params: dict[str, str] = {}
        if req.method in _SAFE_METHODS:
            query = req.scope.get("query_string", b"").decode("latin-1")
            here = quote(req.root_path + req.path, safe="/:@!$&'()*+,;=-._~")
            params["next"] = here + (f"?{query}" if query else "")
        if view.startswith("/"):
            location = view + (("&" if "?" in view else "?") + urlencode(params) if params else "")
        else:
            location = req.url_for(view, **params)
        return RedirectResponse(location, 302 if req.method in _SAFE_METHODS else 303)


def _manager(req: Request) -> LoginManager:
    manager = req.app.extensions.get("login")
    if not isinstance(manager, LoginManager):
        raise SetupError("login needs a LoginManager: kettle.auth.LoginManager(app)")
    return manager


def login_user(
    req: Request,
    user: Any,
    *,
    remember: bool = False,
    duration: timedelta | int | None = None,
    fresh: bool = True,
    force: bool = False,
) -> bool:
    """Log ``user`` in for the rest of this session; returns ``False`` (and does nothing)
    when the account is not active, unless ``force``.

    Keeps ``user.get_id()`` in the session and issues a new session id (against session
    fixation). With ``remember=True`` the browser also gets a signed remember-me cookie
    that logs the user back in after the session ends, for ``duration`` (default
    ``REMEMBER_COOKIE_DURATION``); without it, a remember cookie of an earlier login is
    deleted.
    """
    if not force and not user.is_active:
        return False
    user_id = user.get_id()
    if user_id is None:
        raise ValueError(f"{user!r}.get_id() returned None: a logged-in user needs an id")
    user_id = str(user_id)
    manager = _manager(req)
    session = req.session
    session.regenerate()
    session[USER_ID_KEY] = user_id
    session[FRESH_KEY] = fresh
    req.user = user
    if remember:
        seconds = None if duration is None else to_seconds("duration", duration)
        manager.remember_cookie(req, user_id, seconds)
    else:
        manager.forget_cookie(req)
    return True


def logout_user(req: Request) -> None:
    """Log the current user out: drop the login from the session (other session data
    stays, under a new session id), delete the remember-me cookie, make ``req.user``
    anonymous.
    """
    manager = _manager(req)
    if "sessions" in req.app.extensions:
        session = req.session
        session.pop(USER_ID_KEY, None)
        session.pop(FRESH_KEY, None)
        session.regenerate()
    manager.forget_cookie(req)
    req.user = manager.anonymous_user()


def login_fresh(req: Request) -> bool:
    """Whether the user logged in with credentials during this session, rather than
    through a remember-me cookie (Flask-Login's freshness).
    """
    if not req.user.is_authenticated or "sessions" not in req.app.extensions:
        return False
    return bool(req.session.get(FRESH_KEY, False))


def _find_request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Request:
    # The call plan passes the request first by position when the handler takes it that
    # way; keyword and request-less handlers fall back to the current request.
    if args and isinstance(args[0], Request):
        return args[0]
    for value in kwargs.values():
        if isinstance(value, Request):
            return value
    req = get_current_request()
    if req is None:
        raise RuntimeError("a @login_required function was called outside a request")
    return req


def _refusal(req: Request, fresh: bool) -> Any:
    """``_PASS`` when the user may pass, else what to answer."""
    if not req.user.is_authenticated:
        return _manager(req).unauthorized(req)
    if fresh and not login_fresh(req):
        manager = _manager(req)
        return manager.unauthorized(req, manager.refresh_view or manager.login_view)
    return _PASS


def _guard(handler: F, fresh: bool) -> F:
    if is_async_callable(handler):

        @functools.wraps(handler)
        async def async_guarded(*args: Any, **kwargs: Any) -> Any:
            refusal = _refusal(_find_request(args, kwargs), fresh)
            if refusal is not _PASS:
                return await refusal if hasattr(refusal, "__await__") else refusal
            return await handler(*args, **kwargs)

        return async_guarded  # type: ignore[return-value]

    @functools.wraps(handler)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        refusal = _refusal(_find_request(args, kwargs), fresh)
        if refusal is not _PASS:
            return blocking_await(refusal) if hasattr(refusal, "__await__") else refusal
        return handler(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def login_required(handler: F) -> F:
    """Let only logged-in users reach ``handler`` (sync or async); others get
    :meth:`LoginManager.unauthorized` — a redirect to the login view for browsers, 401
    for API clients. The handler's signature is kept, so its parameters work as before.

    Put it *below* the route decorator (``@app.get(...)`` first, then ``@login_required``):
    above it, the route would register the unprotected function.
    """
    return _guard(handler, fresh=False)


def fresh_login_required(handler: F) -> F:
    """Like :func:`login_required`, and the login must be fresh (:func:`login_fresh`):
    users who came back through a remember-me cookie are sent to the refresh view to
    enter their password again. For pages that change the password or the e-mail.
    """
    return _guard(handler, fresh=True)

"""Accounts: register, log in and log out (the ``auth`` router, mounted at ``/``)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kettle import (
    FormData,
    Request,
    Router,
    flash,
    hash_password_async,
    login_user,
    logout_user,
    redirect,
    render_template,
    safe_redirect,
    url_for,
    verify_and_update_async,
    verify_password_async,
)

from ..models import USERNAME_MAX, User

auth = Router(name="auth")

USERNAME = re.compile(rf"[a-z0-9_.-]{{3,{USERNAME_MAX}}}")
PASSWORD_MIN = 8
# Argon2 hashes whatever it is given; the cap only keeps a megabyte "password" from
# costing a megabyte of hashing.
PASSWORD_MAX = 1024

_dummy_hash: str | None = None


def field(form: FormData, name: str) -> str:
    """The text field ``name`` of ``form``; ``""`` when it is missing or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def check_registration(username: str, password: str) -> str | None:
    """What is wrong with a new account's username and password, or ``None``."""
    if not USERNAME.fullmatch(username):
        return f"A username has 3 to {USERNAME_MAX} characters: letters, digits, '_', '.' or '-'."
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"A password has at least {PASSWORD_MIN} characters."
    return None


async def burn_a_verification(password: str) -> None:
    """Spend the time a real password check takes, so that a wrong username answers as
    slowly as a wrong password and does not tell which usernames exist.
    """
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = await hash_password_async("not the password of anyone")
    await verify_password_async(_dummy_hash, password)


@auth.route("/register", methods=["GET", "POST"])
async def register(req: Request) -> Any:
    if req.user.is_authenticated:
        return redirect(url_for("notes.index"))
    if req.method == "GET":
        return render_template("auth/register.html", username="")
    form = await req.form()
    # Usernames are kept lower-case, so "Ada" cannot register beside "ada".
    username = field(form, "username").strip().lower()
    password = field(form, "password")
    error = check_registration(username, password)
    if error is None:
        taken = await req.db.scalar(select(User.id).where(User.username == username))
        if taken is None:
            req.db.add(User(username=username, password_hash=await hash_password_async(password)))
            try:
                await req.db.flush()  # the INSERT now, so a duplicate shows up here
            except IntegrityError:  # someone took the name since the SELECT
                await req.db.rollback()
                taken = True
        if taken is not None:
            error = f"The username {username} is already taken."
    if error is not None:
        flash(req, error, "error")
        return render_template("auth/register.html", username=username), 400
    flash(req, f"Welcome, {username}! Your account is ready: log in.", "success")
    return redirect(url_for("auth.login"), 303)  # 303: the browser follows with a GET


@auth.route("/login", methods=["GET", "POST"])
async def login(req: Request) -> Any:
    if req.method == "GET":
        if req.user.is_authenticated:
            return redirect(url_for("notes.index"))
        return render_template("auth/login.html", username="", next=req.query.get("next", ""))
    form = await req.form()
    username = field(form, "username").strip().lower()
    password = field(form, "password")[:PASSWORD_MAX]
    next_url = field(form, "next")
    user = await req.db.scalar(select(User).where(User.username == username))
    if user is None:
        await burn_a_verification(password)
        ok, new_hash = False, None
    else:
        ok, new_hash = await verify_and_update_async(user.password_hash, password)
    if user is None or not ok:
        flash(req, "Incorrect username or password.", "error")
        return render_template("auth/login.html", username=username, next=next_url), 400
    if new_hash is not None:
        user.password_hash = new_hash  # stronger parameters since this hash was made
    login_user(req, user)  # also issues a new session id, against session fixation
    flash(req, f"Logged in as {user.username}.", "success")
    # `next` comes from the client: safe_redirect only follows it to a path of this site.
    return safe_redirect(next_url or None, fallback=url_for("notes.index"))


@auth.post("/logout")
async def logout(req: Request) -> Any:
    # POST, never GET: a link or an <img> on another page must not log anyone out.
    if req.user.is_authenticated:
        logout_user(req)
        flash(req, "You are logged out.", "info")
    return redirect(url_for("home"), 303)

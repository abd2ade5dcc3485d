"""examples/notes: every page through the test client, on SQLite and on PostgreSQL.

Each test gets a fresh app (``create_app``) with an instance folder in ``tmp_path``, and a
database of its own: a SQLite file there, or a PostgreSQL schema created for the test and
dropped after it. The tables are made by the app itself at startup, as on a fresh clone.
"""

from __future__ import annotations

import asyncio
import html
import importlib
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from click.testing import CliRunner

import kettle.cli
from kettle import Kettle, KettleWarning
from kettle.db import Database
from kettle.testing import TestClient

# Imported by name, as `kettle run examples.notes.app:app` does. Not with `from examples...`:
# examples/ is not a package, so mypy checks examples/notes as the package `notes`, and a
# second name for the same files would be an error.
create_app: Callable[..., Kettle] = importlib.import_module("examples.notes.app").create_app
MAX_IMAGE_UPLOAD: int = importlib.import_module("examples.notes.views.notes").MAX_IMAGE_UPLOAD

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "notes-test-secret-" + "x" * 32
PASSWORD = "correct horse"
#: What a browser sends: kettle's login_required redirects browsers, and answers 401 to others.
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64


# -- the app, on each database ---------------------------------------------------------------


async def _postgres(statement: str) -> None:
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is needed by these tests and is not reachable at {POSTGRES_URL}: "
            f"{exc!r}. Start it (bash .ci/run starts it).",
            pytrace=False,
        )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@dataclass
class Site:
    app: Kettle
    client: TestClient
    instance: Path
    backend: str

    @property
    def uploads(self) -> Path:
        return self.instance / "uploads"


def _config(backend: str, tmp_path: Path, schema: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {"SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path / "instance")}
    if backend == "postgresql":
        config["DATABASE_URL"] = POSTGRES_URL
        # Every connection works in the test's own schema, so tests never see each other.
        config["DATABASE_ENGINE_OPTIONS"] = {
            "connect_args": {"server_settings": {"search_path": schema}}
        }
    return config


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's shell must not change what the app does under test.
    for name in ("KETTLE_DEBUG", "KETTLE_SECRET_KEY", "KETTLE_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("KETTLE_INSTANCE_PATH", raising=False)
    monkeypatch.delenv("KETTLE_UPLOAD_FOLDER", raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path, clean_env: None) -> Iterator[Site]:
    backend: str = request.param
    schema = f"notes_test_{uuid.uuid4().hex[:12]}" if backend == "postgresql" else None
    if schema is not None:
        asyncio.run(_postgres(f"CREATE SCHEMA {schema}"))
    try:
        app = create_app(_config(backend, tmp_path, schema))
        with TestClient(app, headers=BROWSER) as client:
            yield Site(app, client, tmp_path / "instance", backend)
    finally:
        if schema is not None:
            asyncio.run(_postgres(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def client(site: Site) -> TestClient:
    return site.client


# -- helpers: what a browser does -------------------------------------------------------------


def flashes(response: httpx.Response) -> list[str]:
    found = re.findall(r'<p class="flash flash-\w+" role="status">([^<]*)</p>', response.text)
    return [html.unescape(text) for text in found]


def register(client: TestClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/register", data={"username": username, "password": password})


def login(
    client: TestClient, username: str, password: str = PASSWORD, next_url: str = ""
) -> httpx.Response:
    return client.post(
        "/login", data={"username": username, "password": password, "next": next_url}
    )


def follow(client: TestClient, response: httpx.Response) -> httpx.Response:
    """The page a browser shows after ``response``, a redirect (flash messages shown)."""
    assert response.status_code in (302, 303), response.text
    return client.get(response.headers["location"])


def sign_up(client: TestClient, username: str) -> None:
    """Register ``username`` and log in as them (logging out whoever was logged in),
    following each redirect as a browser would.
    """
    follow(client, client.post("/logout"))
    follow(client, register(client, username))
    follow(client, login(client, username))


def switch_to(client: TestClient, username: str) -> None:
    follow(client, client.post("/logout"))
    follow(client, login(client, username))


def create_note(client: TestClient, title: str, body: str = "") -> int:
    response = client.post("/notes/new", data={"title": title, "body": body})
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/notes/(\d+)", response.headers["location"])
    assert match is not None
    follow(client, response)
    return int(match[1])


def titles(response: httpx.Response) -> list[str]:
    found = re.findall(r'<a href="/notes/\d+">([^<]*)</a>', response.text)
    return [html.unescape(text) for text in found]


def upload(client: TestClient, note_id: int, name: str, content: bytes, ctype: str) -> Any:
    return client.post(f"/notes/{note_id}/image", files={"image": (name, content, ctype)})


# -- pages for visitors ----------------------------------------------------------------------


def test_home_page_for_visitors(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert 'href="/register"' in response.text and 'href="/login"' in response.text
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)">', response.text)
    assert stylesheet is not None and stylesheet[1].startswith("/static/style.css?v=")
    css = client.get(stylesheet[1])
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_unknown_page_is_the_sites_error_page(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert "<h1>404</h1>" in response.text and 'href="/login"' in response.text


# -- register ----------------------------------------------------------------------------------


def test_register(client: TestClient) -> None:
    assert client.get("/register").status_code == 200
    response = register(client, "Ada")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    page = client.get("/login")
    assert flashes(page) == ["Welcome, ada! Your account is ready: log in."]
    # Registering does not log in: the list still asks for a login.
    assert client.get("/notes/").status_code == 302


@pytest.mark.parametrize("again", ["ada", "ADA", " Ada "])
def test_register_duplicate_username(client: TestClient, again: str) -> None:
    assert register(client, "ada").status_code == 303
    client.get("/login")  # takes the welcome message
    response = register(client, again, "another password")
    assert response.status_code == 400
    assert flashes(response) == ["The username ada is already taken."]
    assert 'value="ada"' in response.text  # the form keeps what was typed
    # The first account still logs in with its own password, the second one's does not.
    assert login(client, "ada", "another password").status_code == 400
    assert login(client, "ada").status_code == 303


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("ab", PASSWORD, "A username has 3 to 32"),
        ("a" * 33, PASSWORD, "A username has 3 to 32"),
        ("ada lovelace", PASSWORD, "A username has 3 to 32"),
        ("<script>", PASSWORD, "A username has 3 to 32"),
        ("ada", "short", "A password has at least 8"),
        ("ada", "", "A password has at least 8"),
    ],
)
def test_register_refuses_bad_input(
    client: TestClient, username: str, password: str, message: str
) -> None:
    response = register(client, username, password)
    assert response.status_code == 400
    [flashed] = flashes(response)
    assert flashed.startswith(message)
    assert "<script>" not in response.text  # what was typed comes back escaped
    assert login(client, username.lower(), password).status_code == 400


# -- log in, log out, login_required ----------------------------------------------------------


def test_login_and_logout(client: TestClient) -> None:
    follow(client, register(client, "ada"))
    response = login(client, "Ada")
    assert response.status_code == 303 and response.headers["location"] == "/notes/"
    page = client.get("/notes/")
    assert page.status_code == 200
    assert flashes(page) == ["Logged in as ada."]
    assert '<span class="who">ada</span>' in page.text
    assert client.get("/login").headers["location"] == "/notes/"  # already logged in
    assert client.get("/").headers["location"] == "/notes/"

    response = client.post("/logout")
    assert response.status_code == 303 and response.headers["location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and flashes(home) == ["You are logged out."]
    assert client.get("/notes/").status_code == 302


def test_logout_is_post_only(client: TestClient) -> None:
    sign_up(client, "ada")
    assert client.get("/logout").status_code == 405
    assert client.get("/notes/").status_code == 200  # still logged in


@pytest.mark.parametrize(("username", "password"), [("ada", "wrong password"), ("bob", PASSWORD)])
def test_login_wrong_credentials(client: TestClient, username: str, password: str) -> None:
    register(client, "ada")
    client.get("/login")
    response = login(client, username, password)
    assert response.status_code == 400
    # The same answer for a wrong password and an unknown user.
    assert flashes(response) == ["Incorrect username or password."]
    assert client.get("/notes/").status_code == 302


@pytest.mark.parametrize("path", ["/notes/", "/notes/new", "/notes/1", "/notes/1/edit"])
def test_login_required_redirects_with_next(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": [path]}
    page = client.get(response.headers["location"])
    assert f'name="next" value="{path}"' in page.text


def test_login_follows_next(client: TestClient) -> None:
    register(client, "ada")
    response = login(client, "ada", next_url="/notes/new")
    assert response.status_code == 303 and response.headers["location"] == "/notes/new"


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example/", "/\\evil.example", "https:evil.example"]
)
def test_login_ignores_next_to_another_site(client: TestClient, target: str) -> None:
    register(client, "ada")
    response = login(client, "ada", next_url=target)
    assert response.status_code == 303 and response.headers["location"] == "/notes/"


@pytest.mark.parametrize("path", ["/notes/new", "/notes/1/edit", "/notes/1/delete"])
def test_anonymous_posts_are_refused(client: TestClient, path: str) -> None:
    response = client.post(path, data={"title": "x"})
    assert response.status_code == 303  # to the login page, without next (not a GET)
    assert response.headers["location"] == "/login"


# -- notes: list, create, edit, delete --------------------------------------------------------


def test_create_note(client: TestClient) -> None:
    sign_up(client, "ada")
    assert client.get("/notes/new").status_code == 200
    response = client.post("/notes/new", data={"title": "Groceries", "body": "eggs\r\nmilk"})
    assert response.status_code == 303
    page = follow(client, response)
    assert page.status_code == 200
    assert flashes(page) == ["Created the note “Groceries”."]
    assert '<div class="body">eggs\nmilk</div>' in page.text
    assert titles(client.get("/notes/")) == ["Groceries"]


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [
        ("", "text", "A note needs a title."),
        ("   ", "text", "A note needs a title."),
        ("t" * 201, "", "A title has at most 200 characters."),
        ("ok", "b" * 10_001, "A note has at most 10000 characters."),
    ],
)
def test_create_note_refuses_bad_input(
    client: TestClient, title: str, body: str, message: str
) -> None:
    sign_up(client, "ada")
    response = client.post("/notes/new", data={"title": title, "body": body})
    assert response.status_code == 400
    assert flashes(response) == [message]
    assert titles(client.get("/notes/")) == []


def test_note_text_is_escaped(client: TestClient) -> None:
    sign_up(client, "ada")
    note_id = create_note(client, "<b>bold</b>", '<script>alert("x")</script>')
    page = client.get(f"/notes/{note_id}").text
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in client.get("/notes/").text


def test_edit_note(client: TestClient) -> None:
    sign_up(client, "ada")
    note_id = create_note(client, "Draft", "first")
    form = client.get(f"/notes/{note_id}/edit")
    assert form.status_code == 200 and 'value="Draft"' in form.text
    response = client.post(f"/notes/{note_id}/edit", data={"title": "Final", "body": "second"})
    assert response.status_code == 303 and response.headers["location"] == f"/notes/{note_id}"
    page = client.get(f"/notes/{note_id}")
    assert flashes(page) == ["Saved the note “Final”."]
    assert "<h1>Final</h1>" in page.text and "second" in page.text
    refused = client.post(f"/notes/{note_id}/edit", data={"title": "", "body": "x"})
    assert refused.status_code == 400 and flashes(refused) == ["A note needs a title."]
    assert titles(client.get("/notes/")) == ["Final"]  # unchanged by the refused edit


def test_delete_note(client: TestClient) -> None:
    sign_up(client, "ada")
    keep = create_note(client, "Keep")
    gone = create_note(client, "Gone")
    assert client.get(f"/notes/{gone}/delete").status_code == 405  # never by GET
    response = client.post(f"/notes/{gone}/delete")
    assert response.status_code == 303 and response.headers["location"] == "/notes/"
    page = client.get("/notes/")
    assert flashes(page) == ["Deleted the note “Gone”."]
    assert titles(page) == ["Keep"]
    assert client.get(f"/notes/{gone}").status_code == 404
    assert client.get(f"/notes/{keep}").status_code == 200


def test_list_shows_only_your_own_notes(client: TestClient) -> None:
    sign_up(client, "ada")
    create_note(client, "Ada's secret")
    sign_up(client, "bob")
    create_note(client, "Bob's note")
    page = client.get("/notes/")
    assert titles(page) == ["Bob's note"]
    assert "secret" not in page.text
    switch_to(client, "ada")
    assert titles(client.get("/notes/")) == ["Ada's secret"]


def test_pagination(client: TestClient) -> None:
    sign_up(client, "ada")
    for n in range(1, 13):
        create_note(client, f"Note {n}")
    first = client.get("/notes/")
    assert titles(first) == [f"Note {n}" for n in range(12, 2, -1)]  # newest first
    assert "Page 1 of 2" in first.text
    assert 'href="/notes/?page=2"' in first.text and 'rel="prev"' not in first.text
    second = client.get("/notes/", params={"page": "2"})
    assert titles(second) == ["Note 2", "Note 1"]
    assert 'href="/notes/?page=1"' in second.text and 'rel="next"' not in second.text
    assert titles(client.get("/notes/?page=1")) == titles(first)


@pytest.mark.parametrize("page", ["3", "0", "-1", "abc", "1.5", "", "٣"])
def test_pagination_refuses_pages_that_do_not_exist(client: TestClient, page: str) -> None:
    sign_up(client, "ada")
    for n in range(11):
        create_note(client, f"Note {n}")
    response = client.get("/notes/", params={"page": page})
    assert response.status_code == 404
    assert "There is no such page." in response.text


def test_empty_list(client: TestClient) -> None:
    sign_up(client, "ada")
    page = client.get("/notes/")
    assert page.status_code == 200 and "No notes yet." in page.text
    assert "Page 1" not in page.text


# -- someone else's note ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [
        ("GET", "", None),
        ("GET", "/edit", None),
        ("POST", "/edit", {"title": "Mine now", "body": ""}),
        ("POST", "/delete", None),
        ("GET", "/image", None),
    ],
)
def test_other_users_note_is_not_found(
    client: TestClient, method: str, suffix: str, data: dict[str, str] | None
) -> None:
    sign_up(client, "ada")
    note_id = create_note(client, "Ada's note", "private")
    assert upload(client, note_id, "a.png", PNG, "image/png").status_code == 303
    sign_up(client, "bob")
    response = client.request(method, f"/notes/{note_id}{suffix}", data=data)
    assert response.status_code == 404
    assert "private" not in response.text
    switch_to(client, "ada")
    page = client.get(f"/notes/{note_id}")
    assert page.status_code == 200 and "<h1>Ada&#39;s note</h1>" in page.text
    assert client.get(f"/notes/{note_id}/image").content == PNG


def test_other_users_note_refuses_uploads(site: Site) -> None:
    client = site.client
    sign_up(client, "ada")
    note_id = create_note(client, "Ada's note")
    sign_up(client, "bob")
    assert upload(client, note_id, "b.png", PNG, "image/png").status_code == 404
    assert not site.uploads.exists() or list(site.uploads.iterdir()) == []


# -- images ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "media_type", "ext"),
    [(PNG, "image/png", "png"), (JPEG, "image/jpeg", "jpg"), (GIF, "image/gif", "gif"),
     (WEBP, "image/webp", "webp")],
    ids=["png", "jpeg", "gif", "webp"],
)  # fmt: skip
def test_upload_image(site: Site, content: bytes, media_type: str, ext: str) -> None:
    client = site.client
    sign_up(client, "ada")
    note_id = create_note(client, "With a picture")
    # The client's name and type are claims: the file is taken for what its bytes are.
    response = upload(client, note_id, "../../Holiday photo.bmp", content, "text/plain")
    assert response.status_code == 303 and response.headers["location"] == f"/notes/{note_id}"
    page = client.get(f"/notes/{note_id}")
    assert flashes(page) == ["Attached ../../Holiday photo.bmp."]
    assert f'<img src="/notes/{note_id}/image"' in page.text
    [stored] = site.uploads.iterdir()
    # A random prefix, the client's name made safe, the extension of what it really is.
    assert re.fullmatch(rf"[0-9a-f]{{16}}-Holiday_photo\.{ext}", stored.name)
    assert stored.read_bytes() == content

    image = client.get(f"/notes/{note_id}/image")
    assert image.status_code == 200
    assert image.content == content
    assert image.headers["content-type"] == media_type
    assert image.headers["x-content-type-options"] == "nosniff"
    assert image.headers["content-disposition"] == 'inline; filename="../../Holiday photo.bmp"'
    assert "private" in image.headers["cache-control"]


def test_upload_replaces_the_image_and_delete_removes_it(site: Site) -> None:
    client = site.client
    sign_up(client, "ada")
    note_id = create_note(client, "Picture")
    upload(client, note_id, "one.png", PNG, "image/png")
    upload(client, note_id, "two.gif", GIF, "image/gif")
    [stored] = site.uploads.iterdir()
    assert stored.suffix == ".gif"
    assert client.get(f"/notes/{note_id}/image").content == GIF
    client.post(f"/notes/{note_id}/delete")
    assert list(site.uploads.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "content", "ctype", "message"),
    [
        ("fake.png", b"this is not a picture", "image/png", "Only PNG, JPEG, GIF and WebP"),
        ("page.html", b"<html><script>alert(1)</script></html>", "text/html", "Only PNG"),
        ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml", "Only PNG"),
        ("empty.png", b"", "image/png", "Choose an image file to attach."),
    ],
    ids=["text-named-png", "html", "svg", "empty"],
)
def test_upload_refuses_what_is_not_an_image(
    site: Site, name: str, content: bytes, ctype: str, message: str
) -> None:
    client = site.client
    sign_up(client, "ada")
    note_id = create_note(client, "No picture")
    response = upload(client, note_id, name, content, ctype)
    assert response.status_code == 400
    [flashed] = flashes(response)
    assert flashed.startswith(message)
    assert "<img" not in response.text
    assert not site.uploads.exists() or list(site.uploads.iterdir()) == []
    assert client.get(f"/notes/{note_id}/image").status_code == 404


def test_upload_with_no_file_chosen(client: TestClient) -> None:
    sign_up(client, "ada")
    note_id = create_note(client, "No picture")
    # What a browser sends when the file input is left empty.
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="image"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
        b"\r\n--XyZ--\r\n"
    )
    response = client.post(
        f"/notes/{note_id}/image",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=XyZ"},
    )
    assert response.status_code == 400
    assert flashes(response) == ["Choose an image file to attach."]


def test_upload_without_a_file_field(client: TestClient) -> None:
    sign_up(client, "ada")
    note_id = create_note(client, "No picture")
    response = client.post(f"/notes/{note_id}/image", data={"image": "just text"})
    assert response.status_code == 400
    assert flashes(response) == ["Choose an image file to attach."]


def test_upload_over_the_limit(site: Site) -> None:
    client = site.client
    sign_up(client, "ada")
    note_id = create_note(client, "Too big")
    big = PNG + b"\x00" * MAX_IMAGE_UPLOAD
    response = upload(client, note_id, "big.png", big, "image/png")
    assert response.status_code == 413
    assert "<h1>413</h1>" in response.text
    assert not site.uploads.exists() or list(site.uploads.iterdir()) == []
    # Just under the limit, with the form around it, is fine.
    fits = PNG + b"\x00" * (MAX_IMAGE_UPLOAD - 1024)
    assert upload(client, note_id, "fits.png", fits, "image/png").status_code == 303


# -- storage, configuration, the CLI ----------------------------------------------------------


def test_tables_and_folders_are_created_at_startup(site: Site) -> None:
    assert site.instance.is_dir() and site.uploads.is_dir()
    if site.backend == "sqlite":
        assert (site.instance / "notes.db").is_file()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_init_db_command(tmp_path: Path, clean_env: None, backend: str) -> None:
    schema = f"notes_test_{uuid.uuid4().hex[:12]}" if backend == "postgresql" else None
    if schema is not None:
        asyncio.run(_postgres(f"CREATE SCHEMA {schema}"))
    try:
        app = create_app(_config(backend, tmp_path, schema))
        result = CliRunner().invoke(kettle.cli.main, ["init-db"], obj=app)
        assert result.exit_code == 0, result.output
        assert result.output.startswith("Initialized the database at ")
        tables = asyncio.run(_table_names(app))
        assert {"users", "notes"} <= tables
        again = CliRunner().invoke(kettle.cli.main, ["init-db"], obj=app)  # idempotent
        assert again.exit_code == 0, again.output
    finally:
        if schema is not None:
            asyncio.run(_postgres(f"DROP SCHEMA {schema} CASCADE"))


async def _table_names(app: Kettle) -> set[str]:
    from sqlalchemy import inspect

    db: Database = app.extensions["db"]
    async with db.session() as session:
        connection = await session.connection()
        names = await connection.run_sync(lambda conn: inspect(conn).get_table_names())
    return set(names)


def test_sqlite_in_the_instance_folder_by_default(tmp_path: Path, clean_env: None) -> None:
    app = create_app({"SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path)})
    db: Database = app.extensions["db"]
    assert db.url.drivername == "sqlite+aiosqlite"
    assert db.url.database == str(tmp_path / "notes.db")
    assert app.config["UPLOAD_FOLDER"] == str(tmp_path / "uploads")


@pytest.mark.parametrize("variable", ["DATABASE_URL", "KETTLE_DATABASE_URL"])
def test_postgresql_when_the_environment_says_so(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "postgres://notes@db.example:5432/notes")
    app = create_app({"SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path)})
    db: Database = app.extensions["db"]
    assert db.url.drivername == "postgresql+asyncpg"
    assert (db.url.host, db.url.database) == ("db.example", "notes")


def test_secret_key_from_the_environment(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KETTLE_SECRET_KEY", SECRET)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.debug is False
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
    assert app.config["SECRET_KEY"] == SECRET


def test_without_a_secret_key_it_runs_in_debug_mode_and_warns(
    tmp_path: Path, clean_env: None
) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.debug is True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with TestClient(app) as client:
            assert client.get("/").status_code == 200
    messages = [str(w.message) for w in caught if issubclass(w.category, KettleWarning)]
    assert any("KETTLE_SECRET_KEY is not set" in m and "DEBUG mode" in m for m in messages)

"""Templates: rendering, folders, autoescaping, helpers, registries, streaming, reloading."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import jinja2
import pytest

import kettle
from kettle import Kettle, Request, Router, SetupError
from kettle.templating import (
    Templates,
    render_template,
    render_template_string,
    stream_template,
    templates_for,
)
from kettle.testing import TestClient

from . import templating_app
from .conftest import SECRET
from .templating_app.admin import make_router

APP_TEMPLATES = Path(templating_app.__file__).parent / "templates"
ADMIN_TEMPLATES = APP_TEMPLATES.parent / "admin" / "templates"
MODES = ["async", "sync"]
Render = Callable[[Request], Any]


def site(**config: Any) -> Kettle:
    """An app whose template folder is ``templating_app/templates``."""
    return Kettle(templating_app.__name__, config={"SECRET_KEY": SECRET, **config})


def page(router: Router, path: str, mode: str, render: Render) -> None:
    """Register ``render`` at ``path`` as an ``async def`` or a plain ``def`` handler."""

    async def async_page(req: Request) -> Any:
        return render(req)

    def sync_page(req: Request) -> Any:
        return render(req)

    name = path.strip("/").replace("/", "_").replace("-", "_") or "root"
    router.add_route(path, async_page if mode == "async" else sync_page, name=name)


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its package is missing
        return False


def get(app: Kettle, path: str, **options: Any) -> Any:
    with TestClient(app) as client:
        return client.get(path, **options)


# -- rendering ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_inheritance_and_include(mode: str) -> None:
    app = site()
    page(app, "/", mode, lambda req: render_template("index.html", name="Ada"))
    response = get(app, "/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == (
        "<!doctype html>\n<title>Home - Site</title>\n<nav>kettle</nav>\n"
        "<main><p>Hello Ada</p></main>"
    )


@pytest.mark.parametrize("mode", MODES)
def test_sync_renders_in_a_worker_thread_and_async_on_the_loop(mode: str) -> None:
    app = site()

    @app.template_global()
    def thread() -> str:
        return threading.current_thread().name

    page(app, "/", mode, lambda req: render_template_string("{{ thread() }}"))
    name = get(app, "/").text
    assert name.startswith("kettle-sync") is (mode == "sync")


def test_tuple_return_and_error_page() -> None:
    app = site()

    @app.get("/gone")
    async def gone(req: Request) -> Any:
        return render_template_string("<h1>{{ what }} is gone</h1>", what="it"), 410

    @app.errorhandler(404)
    def not_found(req: Request, exc: Exception) -> Any:
        return render_template("index.html", name="nobody"), 404

    with TestClient(app) as client:
        response = client.get("/gone")
        assert (response.status_code, response.text) == (410, "<h1>it is gone</h1>")
        missing = client.get("/nowhere")
        assert missing.status_code == 404
        assert "<p>Hello nobody</p>" in missing.text


@pytest.mark.parametrize(
    ("template", "escaped"),
    [
        ("echo.html", True),
        ("echo.htm", True),
        ("echo.xml", True),
        ("echo.jinja", True),
        ("echo.txt", False),
    ],
)
@pytest.mark.parametrize(
    ("value", "safe_form"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('" onmouseover="alert(1)', "&#34; onmouseover=&#34;alert(1)"),
    ],
)
def test_autoescape(template: str, escaped: bool, value: str, safe_form: str) -> None:
    app = site()
    page(app, "/", "async", lambda req: render_template(template, value=req.query["v"]))
    body = get(app, "/", params={"v": value}).text
    if escaped:
        assert value not in body
        assert body == f'<p title="{safe_form}">{safe_form}</p>'
    else:
        assert body == f'<p title="{value}">{value}</p>'


@pytest.mark.parametrize("mode", MODES)
def test_render_template_string(mode: str) -> None:
    app = site()
    source = "<b>{{ value }}</b>{% if value|length > 3 %}!{% endif %}"
    page(app, "/", mode, lambda req: render_template_string(source, value=req.query["v"]))
    with TestClient(app) as client:
        assert client.get("/", params={"v": "<i>"}).text == "<b>&lt;i&gt;</b>"
        assert client.get("/", params={"v": "<script>"}).text == "<b>&lt;script&gt;</b>!"
        # A template text is compiled once and reused; its output still follows the context.
        assert client.get("/", params={"v": "ok"}).text == "<b>ok</b>"


# -- folders ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_router_templates_and_the_app_wins_a_clash(mode: str) -> None:
    app = site()
    admin = make_router()
    page(admin, "/panel", mode, lambda req: render_template("admin/panel.html", who="Ada"))
    page(admin, "/clash", mode, lambda req: render_template("clash.html"))
    app.mount("/admin", admin)
    with TestClient(app) as client:
        panel = client.get("/admin/panel")
        # The router's template extends the app's base.html: one namespace for both.
        assert panel.text.endswith("<nav>kettle</nav>\n<main><p>panel of Ada</p></main>")
        assert client.get("/admin/clash").text == "clash: from the app"
    assert templates_for(app).folders == [APP_TEMPLATES, ADMIN_TEMPLATES]


def test_nested_routers_in_mount_order_and_missing_folders_skipped(tmp_path: Path) -> None:
    app = Kettle(templating_app.__name__, config={"SECRET_KEY": SECRET}, template_folder=None)
    first = Router(import_name=templating_app.__name__, template_folder=tmp_path / "absent")
    outer, inner = Router(), make_router()
    later = Router(import_name=templating_app.__name__, template_folder="templates")
    outer.mount("/inner", inner)
    app.mount("/first", first)
    app.mount("/outer", outer)
    app.mount("/later", later)
    page(inner, "/", "async", lambda req: render_template("clash.html"))
    assert get(app, "/outer/inner/").text == "clash: from the router"
    assert templates_for(app).folders == [ADMIN_TEMPLATES, APP_TEMPLATES]


@pytest.mark.parametrize(
    "name",
    [
        "../__init__.py",
        "sub/../index.html",  # Jinja refuses any ".." segment, even one that stays inside
        "admin/../../__init__.py",
        "./../admin/__init__.py",
        "..\\__init__.py",
        "admin\\..\\..\\__init__.py",
        "/etc/passwd",
        str(APP_TEMPLATES / "index.html"),
        "C:/Windows/win.ini",
        "c:index.html",
        "index.html\x00",
    ],
)
def test_names_leaving_the_folders_are_not_found(name: str) -> None:
    """SECURITY.md case 48: a template name with ``..`` (or any other way out) is not found."""
    app = site()
    page(app, "/", "async", lambda req: render_template(req.query["name"]))
    page(app, "/include", "async", lambda req: render_template_string("{% include n %}", n=name))
    with pytest.raises(jinja2.TemplateNotFound):
        templates_for(app).render_template(name)
    with TestClient(app) as client:
        for response in (client.get("/", params={"name": name}), client.get("/include")):
            assert response.status_code == 500
            assert response.text.count("Internal Server Error") == 1
            assert "tiny site" not in response.text and "make_router" not in response.text


def test_missing_template_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    app = site()
    app.mount("/admin", make_router())
    page(app, "/", "async", lambda req: render_template("nope.html"))
    with caplog.at_level(logging.ERROR, logger="kettle"):
        response = get(app, "/")
    assert response.status_code == 500
    assert "nope.html" not in response.text
    record = next(r for r in caplog.records if r.exc_info is not None)
    message = str(record.exc_info[1]) if record.exc_info else ""
    assert "'nope.html' not found" in message
    assert f"searched {APP_TEMPLATES}, {ADMIN_TEMPLATES}" in message


# -- helpers and registries ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_url_for_req_and_config(mode: str) -> None:
    app = site(SITE_NAME="Kettle & Co")

    @app.get("/items/<int:id>")
    async def show(req: Request, id: int) -> str:
        return str(id)

    page(app, "/", mode, lambda req: render_template("globals.html"))
    with TestClient(app, root_path="/shop") as client:
        text = client.get("/", params={"q": "<x>"}).text
    assert text == "/shop/items/7?q=a+b|/|&lt;x&gt;|Kettle &amp; Co"


def test_rendering_outside_a_request() -> None:
    app = site()

    @app.get("/items/<int:id>")
    async def show(req: Request, id: int) -> str:
        return str(id)

    for function, argument in [
        (render_template, "index.html"),
        (render_template_string, "x"),
        (stream_template, "index.html"),
    ]:
        with pytest.raises(RuntimeError, match=r"outside a request: use .*templates_for\(app\)"):
            function(argument)
    templates = templates_for(app)
    assert templates is templates_for(app) is app.extensions["templates"]
    assert "<p>Hello Ada</p>" in templates.render_template("index.html", name="Ada")
    assert templates.render_template(["nope.html", "clash.html"]) == "clash: from the app"
    assert templates.render_template_string("{{ req }} {{ url_for('show', id=2) }}") == (
        "None /items/2"
    )
    # Creating the templates finalized the app: a late registration is refused, not lost.
    with pytest.raises(SetupError):
        app.template_filter("late")(str)


def test_created_once_under_concurrency() -> None:
    app = site()
    barrier = threading.Barrier(8)
    found: list[Templates] = []

    def worker() -> None:
        barrier.wait()
        found.append(templates_for(app))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and all(t is found[0] for t in found)


@pytest.mark.parametrize("mode", MODES)
def test_filters_globals_and_tests_from_app_and_routers(mode: str) -> None:
    app = site()
    admin = make_router()

    @app.template_filter()
    def shout(value: str) -> str:
        return value.upper() + "!"

    @admin.template_filter("shout")
    def router_shout(value: str) -> str:
        return "router"

    @admin.template_filter("reverse")  # a router may override a Jinja built-in too
    def backwards(value: str) -> str:
        return value[::-1] + "~"

    @app.template_global("answer")
    def answer() -> int:
        return 42

    @admin.template_global()
    def owner() -> str:
        return "admin"

    @app.template_test()
    def even(value: int) -> bool:
        return value % 2 == 0

    @admin.template_test("big")
    def big(value: int) -> bool:
        return value > 100

    app.mount("/admin", admin)
    source = (
        "{{ 'hi'|shout }} {{ 'abc'|reverse }} {{ answer() }} {{ owner() }} "
        "{{ 4 is even }} {{ 3 is even }} {{ 101 is big }}"
    )
    page(admin, "/", mode, lambda req: render_template_string(source))
    assert get(app, "/admin/").text == "HI! cba~ 42 admin True False True"


@pytest.mark.parametrize("mode", MODES)
def test_context_processors(mode: str) -> None:
    app = site()
    admin = make_router()
    seen: list[str] = []

    @app.context_processor
    def site_name(req: Request) -> dict[str, Any]:
        seen.append(req.path)
        return {"site_name": "Kettle", "shared": "app"}

    @admin.context_processor
    def admin_values(req: Request) -> dict[str, Any]:
        return {"section": "admin", "shared": "router", "name": "processor"}

    app.mount("/admin", admin)
    page(app, "/", mode, lambda req: render_template("index.html", name="explicit"))
    source = "{{ site_name }} {{ section }} {{ shared }} {{ name }}"
    page(admin, "/", mode, lambda req: render_template_string(source))
    with TestClient(app) as client:
        # Processors feed included templates too; explicit context wins over processors.
        home = client.get("/").text
        assert "<nav>Kettle</nav>" in home and "<p>Hello explicit</p>" in home
        # A router's processors are app-wide; the app's win a clash.
        assert client.get("/admin/").text == "Kettle admin app processor"
    assert seen == ["/", "/admin/"]


@pytest.mark.parametrize("register", ["context_processor", "template_filter", "template_global"])
def test_async_processors_filters_and_globals_are_refused(register: str) -> None:
    app = site()
    admin = make_router()

    async def fetch(req: Request) -> dict[str, Any]:
        return {}

    if register == "context_processor":
        admin.context_processor(fetch)
    else:
        getattr(admin, register)()(fetch)
    app.mount("/admin", admin)
    page(app, "/", "async", lambda req: render_template_string("x"))
    with pytest.raises(SetupError, match=r"fetch.*is async, but templates render sync"):
        templates_for(app)
    # Through a request, the first render fails the same way: a logged 500.
    assert get(app, "/").status_code == 500


def test_processor_returning_something_else_is_a_500(caplog: pytest.LogCaptureFixture) -> None:
    app = site()

    @app.context_processor
    def broken(req: Request) -> Any:
        return ["not", "a", "dict"]

    page(app, "/", "async", lambda req: render_template_string("x"))
    with caplog.at_level(logging.ERROR, logger="kettle"):
        assert get(app, "/").status_code == 500
    assert "returned list, not a dict" in caplog.text


@pytest.mark.parametrize(
    ("function", "module"),
    [
        ("static_url('app.css')", "kettle.staticfiles"),
        ("get_flashed_messages()", "kettle.flash"),
        ("csrf_token()", "kettle.security.csrf"),
    ],
)
def test_helpers_from_other_parts_of_kettle(
    function: str, module: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = site()
    page(app, "/", "async", lambda req: render_template_string(f"[{{{{ {function} }}}}]"))
    with caplog.at_level(logging.ERROR, logger="kettle"), TestClient(app) as client:
        response = client.get("/")
    if not available(module):
        # Templates work without the part; only a call to its helper says what is missing.
        assert response.status_code == 500
        assert f"needs {module}" in caplog.text or f"({module})" in caplog.text
    else:
        # The helper was found and called; what it returns is its own module's business.
        assert "in a template needs" not in caplog.text


# -- streaming ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_stream_template(mode: str) -> None:
    app = site()
    marks: list[int] = []
    count = 3000

    @app.get("/items/<int:id>")
    async def show(req: Request, id: int) -> str:
        return str(id)

    @app.template_global()
    def mark(i: int) -> int:
        marks.append(i)
        return i

    @app.template_global()
    def link() -> str:
        # kettle.url_for finds the current request: it is current while the page renders.
        return kettle.url_for("show", id=1)

    def render(req: Request) -> Any:
        response = stream_template("big.html", count=count)
        assert marks == []  # nothing is rendered until the response is sent
        return response

    page(app, "/", mode, render)
    response = get(app, "/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "content-length" not in response.headers
    expected = "".join(f"<p>{i}</p>" for i in range(count))
    assert response.text == expected + f'<a href="/items/{count}">/items/1</a>'
    assert marks == list(range(count))


def test_stream_is_sent_in_pieces() -> None:
    app = site()
    app.template_global("mark")(str)
    app.template_global("link")(str)

    @app.get("/items/<int:id>")
    async def show(req: Request, id: int) -> str:
        return str(id)

    page(app, "/", "async", lambda req: stream_template("big.html", count=3000))

    async def bodies() -> list[bytes]:
        sent: list[MutableMapping[str, Any]] = []
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError("unreachable")

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
        await app(scope, receive, send)
        return [m["body"] for m in sent if m["type"] == "http.response.body" and m["body"]]

    pieces = asyncio.run(bodies())
    # Several pieces, each gathering many template nodes (3000 paragraphs, not 6000 pieces).
    assert 2 < len(pieces) < 10
    assert b"".join(pieces).startswith(b"<p>0</p><p>1</p>")
    assert b"".join(pieces).endswith(b'<a href="/items/3000"></a>')


# -- reloading --------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
def test_templates_reload_in_debug_only(tmp_path: Path, debug: bool) -> None:
    template = tmp_path / "page.html"
    template.write_text("first")
    app = Kettle(__name__, config={"SECRET_KEY": SECRET, "DEBUG": debug}, template_folder=tmp_path)
    page(app, "/", "sync", lambda req: render_template("page.html"))
    with TestClient(app) as client:
        assert client.get("/").text == "first"
        template.write_text("second")
        # Move the modification time on: file systems with coarse timestamps could
        # otherwise see the same time for both writes.
        stat = template.stat()
        os.utime(template, (stat.st_atime, stat.st_mtime + 5))
        assert client.get("/").text == ("second" if debug else "first")

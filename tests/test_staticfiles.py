"""Static folders: path safety, caching, precompressed siblings, static_url; mirrors
kettle/staticfiles.py (the validators and ranges they share are in test_files.py).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kettle import Converter, Kettle, Request, Router, SetupError
from kettle.staticfiles import StaticFiles, add_static, install_default_static, static_url
from kettle.testing import TestClient

from .conftest import SECRET, MakeApp, call_raw

CSS = b"body { color: #333 }\n" * 50
PNG = b"\x89PNG\r\n"
SECRET_TEXT = b"TOP SECRET"


# -- every open() of the process, for the proof that nothing outside the folder is opened ---

_opened: list[str] = []
_recording = False
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(os.fsdecode(args[0]))


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """The paths opened (``open``, ``os.open``) by any thread while the test runs."""
    global _recording, _hooked
    if not _hooked:  # audit hooks cannot be removed: one for the session, off when unused
        sys.addaudithook(_audit)
        _hooked = True
    _opened.clear()
    _recording = True
    try:
        yield _opened
    finally:
        _recording = False


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "js").mkdir(parents=True)
    (static / "sub").mkdir()
    (static / ".git").mkdir()
    (static / ".well-known").mkdir()
    (static / "app.css").write_bytes(CSS)
    (static / "js" / "app.js").write_text("console.log(1)")
    (static / "page.html").write_text("<h1>hi</h1>")
    (static / "data.bin").write_bytes(bytes(range(100)))
    (static / "archive.css.gz").write_bytes(gzip.compress(CSS))
    (static / ".env").write_text("PASSWORD=1")
    (static / ".git" / "config").write_text("[core]")
    (static / ".well-known" / "security.txt").write_text("Contact: x")
    (tmp_path / "static_secret").mkdir()
    (tmp_path / "static_secret" / "x.txt").write_bytes(SECRET_TEXT)
    (tmp_path / "outside.txt").write_bytes(SECRET_TEXT)
    (static / "link_out").symlink_to(tmp_path / "static_secret" / "x.txt")
    (static / "dir_out").symlink_to(tmp_path / "static_secret")
    (static / "link_in").symlink_to(static / "app.css")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "evil.html").write_text("<script>alert(1)</script>")
    (uploads / "evil.svg").write_text("<svg onload='alert(1)'/>")
    (uploads / "photo.png").write_bytes(PNG)
    return tmp_path


class Anything(Converter):
    """Lets every name through, dot segments included: only StaticFiles stands guard."""

    consumes_rest = True


def build(make_app: MakeApp, root: Path) -> Kettle:
    app = make_app()
    add_static(app, "/static", root / "static")
    add_static(app, "/open", root / "static", name="open", follow_symlinks=True)
    add_static(app, "/uploads", root / "uploads", name="uploads", untrusted=True)
    add_static(app, "/cached", root / "static", name="cached", cache_control="max-age=60")
    add_static(app, "/dot", root / "static", name="dot", dotfiles=True)
    app.add_converter("anything", Anything)
    unguarded = StaticFiles(root / "static")
    app.add_route("/raw/<anything:filename>", unguarded.serve, ["GET"], name="raw")

    @app.get("/url/<path:name>")
    def url(req: Request, name: str) -> dict[str, str]:
        return {"url": static_url(name, **dict(req.query.items()))}

    return app


@pytest.fixture
def client(make_app: MakeApp, site: Path) -> Iterator[TestClient]:
    with TestClient(build(make_app, site)) as client:
        yield client


# -- serving -----------------------------------------------------------------------------------


def test_serves_a_file(client: TestClient, site: Path) -> None:
    response = client.get("/static/app.css", headers={"accept-encoding": "identity"})
    assert response.status_code == 200 and response.content == CSS
    info = (site / "static" / "app.css").stat()
    assert response.headers["etag"] == f'"{info.st_mtime_ns:x}-{info.st_size:x}"'
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["accept-ranges"] == "bytes"
    assert "vary" not in response.headers  # no precompressed sibling
    again = client.get("/static/app.css", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304 and again.headers["x-content-type-options"] == "nosniff"
    head = client.head("/static/js/app.js")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "text/javascript; charset=utf-8"
    assert client.get("/static/link_in").content == CSS  # a symlink inside the folder
    assert client.get("/static/data.bin", headers={"range": "bytes=-3"}).content == bytes(
        [97, 98, 99]
    )


def test_a_compressed_file_asked_for_by_name_is_not_decoded(client: TestClient) -> None:
    with client.stream("GET", "/static/archive.css.gz") as response:
        raw = b"".join(response.iter_raw())
        assert response.headers["content-type"] == "application/gzip"
        assert "content-encoding" not in response.headers
    assert gzip.decompress(raw) == CSS


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [
        ("/static/app.css", "no-cache"),
        ("/static/app.css?v=0123456789ab", "public, max-age=31536000, immutable"),
        ("/static/app.css?x=1&v=1", "public, max-age=31536000, immutable"),
        ("/static/app.css?vv=1", "no-cache"),
        ("/cached/app.css", "max-age=60"),
    ],
)
def test_cache_control(client: TestClient, path: str, cache_control: str) -> None:
    assert client.get(path).headers["cache-control"] == cache_control


@pytest.mark.parametrize(
    ("name", "disposition"),
    [
        ("evil.html", 'attachment; filename="evil.html"'),
        ("evil.svg", 'attachment; filename="evil.svg"'),
        ("photo.png", None),
    ],
)
def test_uploads_never_render_as_pages(
    client: TestClient, name: str, disposition: str | None
) -> None:
    response = client.get(f"/uploads/{name}")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers.get("content-disposition") == disposition


def test_dotfiles_only_when_allowed(client: TestClient) -> None:
    assert client.get("/static/.well-known/security.txt").status_code == 404
    assert client.get("/dot/.well-known/security.txt").text == "Contact: x"


def test_many_hostile_ranges_get_the_whole_file(client: TestClient) -> None:
    header = "bytes=" + ",".join(["0-0"] * 10_000)
    response = client.get("/static/data.bin", headers={"range": header})
    assert response.status_code == 200 and response.content == bytes(range(100))
    several = client.get("/static/data.bin", headers={"range": "bytes=0-0,10-10"})
    assert several.status_code == 206
    assert several.headers["content-type"].startswith("multipart/byteranges; boundary=")


# -- path safety ---------------------------------------------------------------------------------

TRAVERSALS = [
    "/static/../static_secret/x.txt",  # the sibling folder sharing the prefix (CVE-2023-29159)
    "/static/../outside.txt",
    "/static/../../outside.txt",
    "/static/..%2f..%2foutside.txt",  # left encoded by the server
    "/static/%2e%2e/outside.txt",
    "/static/%2e%2e%2foutside.txt",
    "/static/..\\outside.txt",
    "/static/..%5coutside.txt",
    "/static/js/..\\..\\outside.txt",
    "/static/app.css\x00.png",
    "/static/\x00",
    "/static//etc/passwd",
    "/static/C:/Windows/win.ini",
    "/static/C:\\Windows\\win.ini",
    "/static/\\\\host\\share\\x",
    "/static/" + "a" * 5000,
    "/static/" + "a/" * 2000 + "b",
    "/static/.env",
    "/static/.git/config",
    "/static/js/../.env",
    "/static/sub",
    "/static/sub/",
    "/static/js/",
    "/static/link_out",  # a symlink leaving the folder
    "/static/dir_out/x.txt",
    "/static/missing.css",
    "/raw/../static_secret/x.txt",  # past a converter that lets dot segments through
    "/raw/../outside.txt",
    "/raw/./../outside.txt",
    "/raw//etc/passwd",
    "/raw/" + "/" * 10 + "etc/passwd",
    "/raw/link_out",
    "/raw/dir_out/x.txt",
    "/raw/.env",
]


@pytest.mark.anyio
@pytest.mark.parametrize("path", TRAVERSALS)
async def test_traversal_is_404_and_opens_nothing_outside(
    make_app: MakeApp, site: Path, opened: list[str], path: str
) -> None:
    app = build(make_app, site)
    try:
        status, body = await call_raw(app, path)
    finally:
        await app.shutdown()
    # A NUL is refused by the router itself (400, SECURITY.md case 3) before any handler.
    assert status == (400 if "\x00" in path else 404)
    assert SECRET_TEXT not in body and b"Traceback" not in body
    outside = [p for p in opened if not os.path.realpath(p).startswith(str(site / "static"))]
    assert not [p for p in outside if str(site) in p]  # nothing opened outside the folder


def test_the_guarded_files_are_real(client: TestClient, opened: list[str], site: Path) -> None:
    # The control: the files the traversals aim at exist and are readable, so only the
    # folder check stands between them and the client.
    assert client.get("/open/link_out").content == SECRET_TEXT  # follow_symlinks=True
    assert client.get("/open/dir_out/x.txt").content == SECRET_TEXT
    assert any(p.endswith("static_secret/x.txt") for p in opened)
    handler = StaticFiles(site / "static")
    assert handler.resolve("../static_secret/x.txt") is None
    assert handler.resolve("link_out") is None
    assert StaticFiles(site / "static", follow_symlinks=True).resolve("link_out") == str(
        site / "static_secret" / "x.txt"
    )


@pytest.mark.parametrize(
    "name",
    ["", "/", "a//b", ".", "..", "./app.css", "../x", "a/../../x", "x\\y", "C:", "C:/x",
     "a\x00", ".env", "js/.hidden", "a" * 256, "a/" * 600],
)  # fmt: skip
def test_resolve_refuses_names_as_text(site: Path, opened: list[str], name: str) -> None:
    assert StaticFiles(site / "static").resolve(name) is None
    assert opened == []


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Drop root's right to read anything (for the unreadable-file case), then restore it."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_an_unreadable_file_is_403_without_a_traceback(make_app: MakeApp) -> None:
    folder = Path(tempfile.mkdtemp())  # not under pytest's 0700 tmp: the test user reads it
    try:
        folder.chmod(0o755)
        (folder / "ok.txt").write_text("ok")
        (folder / "locked.txt").write_text("locked")
        (folder / "locked.txt").chmod(0)
        app = make_app()
        add_static(app, "/s", folder)
        with TestClient(app) as client:
            assert client.get("/s/missing.txt").status_code == 404  # warm every code path
            with unprivileged():
                assert client.get("/s/ok.txt").text == "ok"
                response = client.get("/s/locked.txt")
        assert response.status_code == 403
        assert "Traceback" not in response.text and "locked" not in response.text
    finally:
        shutil.rmtree(folder)


def test_a_missing_folder_is_a_setup_error(make_app: MakeApp, tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="not a directory"):
        add_static(make_app(), "/s", tmp_path / "nope")
    add_static(make_app(), "/s", tmp_path / "nope", check_dir=False)


# -- precompressed siblings --------------------------------------------------------------------


@pytest.fixture
def compressed(site: Path) -> Path:
    static = site / "static"
    (static / "app.css.gz").write_bytes(gzip.compress(CSS))
    (static / "app.css.br").write_bytes(b"BROTLI")  # sent as is, never decoded here
    return static


def raw_get(client: TestClient, path: str, **headers: str) -> tuple[int, Any, bytes]:
    with client.stream("GET", path, headers=headers) as response:
        return response.status_code, response.headers, b"".join(response.iter_raw())


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("br, gzip", "br"),
        ("gzip, br", "br"),  # br preferred
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("*", "br"),
        ("*, br;q=0", "gzip"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("br;q=0, gzip;q=0", None),
        ("br;q=junk", None),
        ("identity", None),
        ("", None),
        ("deflate, " * 100 + "br", None),  # only the first 32 codings are read
    ],
)
def test_precompressed_siblings(
    client: TestClient, compressed: Path, accept: str, coding: str | None
) -> None:
    status, headers, body = raw_get(client, "/static/app.css", **{"accept-encoding": accept})
    assert status == 200
    assert headers["vary"] == "accept-encoding"  # on the uncompressed answer too
    assert headers["content-type"] == "text/css; charset=utf-8"
    assert headers.get("content-encoding") == coding
    expected = {"br": b"BROTLI", "gzip": (compressed / "app.css.gz").read_bytes(), None: CSS}
    assert body == expected[coding]
    assert headers["content-length"] == str(len(body))
    if coding:
        assert headers["etag"].endswith(f'-{coding}"')


def test_precompressed_and_conditionals_and_ranges(client: TestClient, compressed: Path) -> None:
    _, headers, _ = raw_get(client, "/static/app.css", **{"accept-encoding": "br"})
    status, again, body = raw_get(
        client, "/static/app.css", **{"accept-encoding": "br", "if-none-match": headers["etag"]}
    )
    assert status == 304 and body == b"" and again["vary"] == "accept-encoding"
    assert "content-encoding" not in again
    status, partial, body = raw_get(
        client, "/static/app.css", **{"accept-encoding": "br", "range": "bytes=0-3"}
    )
    assert status == 206 and body == CSS[:4] and "content-encoding" not in partial
    assert partial["vary"] == "accept-encoding"
    with client.stream("HEAD", "/static/app.css", headers={"accept-encoding": "br"}) as head:
        assert head.headers["content-length"] == "6"


def test_a_stale_sibling_is_ignored(client: TestClient, compressed: Path) -> None:
    info = (compressed / "app.css").stat()
    os.utime(compressed / "app.css.br", ns=(info.st_atime_ns, info.st_mtime_ns - 10**9))
    _, _, body = raw_get(client, "/static/app.css", **{"accept-encoding": "br, gzip"})
    assert body == (compressed / "app.css.gz").read_bytes()  # br is stale; gzip is not


def test_no_precompressed_when_turned_off(make_app: MakeApp, compressed: Path) -> None:
    app = make_app()
    add_static(app, "/s", compressed, precompressed=False)
    with TestClient(app) as client:
        _, headers, body = raw_get(client, "/s/app.css", **{"accept-encoding": "br"})
    assert body == CSS and "vary" not in headers


def test_a_sibling_symlinked_out_is_ignored(client: TestClient, site: Path) -> None:
    (site / "static" / "js" / "app.js.br").symlink_to(site / "outside.txt")
    _, headers, body = raw_get(client, "/static/js/app.js", **{"accept-encoding": "br"})
    assert body == b"console.log(1)" and "vary" not in headers
    (site / "static" / "js" / "packed.br").write_bytes(b"PACKED")
    (site / "static" / "page.html.br").symlink_to(site / "static" / "js" / "packed.br")
    _, headers, body = raw_get(client, "/static/page.html", **{"accept-encoding": "br"})
    assert body == b"PACKED" and headers["content-encoding"] == "br"  # a link inside is fine


# -- static_url --------------------------------------------------------------------------------


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def test_static_url_has_a_content_hash(client: TestClient, site: Path) -> None:
    assert client.get("/url/app.css").json() == {"url": f"/static/app.css?v={digest(CSS)}"}
    assert client.get("/url/app.css", params={"endpoint": "open"}).json() == {
        "url": f"/open/app.css?v={digest(CSS)}"
    }
    (site / "static" / "app.css").write_bytes(CSS.upper())  # same size, new content
    assert client.get("/url/app.css").json()["url"].endswith(f"?v={digest(CSS.upper())}")
    external = client.get("/url/js/app.js", params={"_external": "1"}).json()["url"]
    assert external.startswith("http://testserver/static/js/app.js?v=")


def test_static_url_hashes_each_file_once(client: TestClient, opened: list[str]) -> None:
    client.get("/url/app.css")
    reads = [p for p in opened if p.endswith("app.css")]
    assert len(reads) == 1
    client.get("/url/app.css")
    assert [p for p in opened if p.endswith("app.css")] == reads


@pytest.mark.parametrize("name", ["missing.css", "../static_secret/x.txt", ".env", "sub"])
def test_static_url_without_a_servable_file_has_no_version(
    client: TestClient, opened: list[str], name: str
) -> None:
    response = client.get(f"/url/{name}")
    if response.status_code == 200:  # the router may refuse the name before the handler
        assert "v=" not in response.json()["url"]
    assert not [p for p in opened if "static_secret" in p or p.endswith(".env")]


def test_static_url_outside_a_request_fails_clearly() -> None:
    with pytest.raises(SetupError, match="outside a request"):
        static_url("app.css")


def test_static_url_in_an_async_handler_and_a_router(site: Path) -> None:
    app = Kettle(__name__, config={"SECRET_KEY": SECRET}, static_folder=site / "static")
    admin = Router("admin", static_folder=site / "uploads", static_url_path="/assets")

    @admin.get("/page")
    async def page(req: Request) -> dict[str, str]:
        return {"own": static_url("photo.png", endpoint=".static"), "app": static_url("app.css")}

    app.mount("/admin", admin)
    install_default_static(app)
    with TestClient(app) as client:
        urls = client.get("/admin/page").json()
        assert urls == {
            "own": f"/admin/assets/photo.png?v={digest(PNG)}",
            "app": f"/static/app.css?v={digest(CSS)}",
        }
        assert client.get("/admin/assets/photo.png").content == PNG


# -- the default static folders ----------------------------------------------------------------


def test_install_default_static(site: Path) -> None:
    app = Kettle(__name__, config={"SECRET_KEY": SECRET}, static_folder=site / "static")
    install_default_static(app)
    install_default_static(app)  # idempotent
    with TestClient(app) as client:
        assert client.get("/static/app.css").content == CSS
    assert app.url_for("static", filename="js/app.js") == "/static/js/app.js"


def test_install_default_static_leaves_what_is_there(site: Path, tmp_path: Path) -> None:
    missing = Kettle(__name__, config={"SECRET_KEY": SECRET}, static_folder=tmp_path / "none")
    install_default_static(missing)
    assert missing.routes == []
    own = Kettle(__name__, config={"SECRET_KEY": SECRET}, static_folder=site / "static")

    @own.get("/assets/<path:filename>")
    def static(req: Request, filename: str) -> str:
        return filename

    install_default_static(own)
    assert [route.name for route in own.routes] == ["static"]
    unnamed = Kettle(__name__, config={"SECRET_KEY": SECRET}, static_folder=None)
    unnamed.mount("/x", Router(static_folder=site / "static"))
    with pytest.raises(SetupError, match="no name"):
        install_default_static(unnamed)


def test_add_static_resolves_a_relative_folder_against_the_router(
    make_app: MakeApp, site: Path
) -> None:
    router = Router("files")
    router.root_dir = site
    add_static(router, "/", "static", name="everything")
    app = make_app()
    app.mount("/f", router)
    with TestClient(app) as client:
        assert client.get("/f/app.css").content == CSS
    assert app.url_for("files.everything", filename="app.css") == "/f/app.css"

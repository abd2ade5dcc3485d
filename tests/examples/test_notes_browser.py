"""examples/notes end to end: a real server, a real headless Chromium, a user's whole visit.

The server is started with the README's own command, ``kettle run examples.notes.app:app``,
and no configuration but a fresh instance folder: it must create its database and work on
a machine that has never run it. The browser is the system's Chromium driven by Playwright
(never a browser Playwright downloads); when it is missing this test fails, saying what to
install, because CI is expected to have it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.servers.serverutil import clean_environment, free_port, serve

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
USERNAME = "grace"
PASSWORD = "a long enough password"
TITLE = "Buy a new kettle"


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        pytest.fail(
            "Chromium is needed by the browser test and was not found (no `chromium` on PATH "
            "nor /usr/bin/chromium). Install the system package: apt-get install chromium. "
            "Do not use `playwright install`: the test drives the system browser.",
            pytrace=False,
        )
    return path


def tiny_png() -> bytes:
    """A valid 1 by 1 pixel PNG, so that the browser really decodes the image it shows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + checksum

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # width, height, 8-bit RGB
    pixels = zlib.compress(b"\x00\x20\x80\xc0")  # filter byte, then one pixel
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def kettle_command() -> list[str]:
    script = shutil.which("kettle", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "kettle"]


@contextlib.contextmanager
def notes_server(instance: Path, log_path: Path) -> Iterator[str]:
    """``kettle run examples.notes.app:app`` on a free port, as the README says, with the
    instance folder (database and uploads) in ``instance``.
    """
    port = free_port()
    # Nothing from the developer's shell: no secret key, no database URL, no debug flag.
    env = {k: v for k, v in clean_environment().items() if k != "DATABASE_URL"}
    env["KETTLE_INSTANCE_PATH"] = str(instance)
    command = [*kettle_command(), "run", "examples.notes.app:app", "--port", str(port)]
    with serve("the notes app", command, port=port, cwd=ROOT, env=env, log_path=log_path) as server:
        yield server.base_url


def test_a_visit_in_a_real_browser(tmp_path: Path) -> None:
    executable = chromium_path()
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("the browser test needs Playwright for Python: pip install playwright")
    image = tmp_path / "dot.png"
    image.write_bytes(tiny_png())
    log_path = tmp_path / "server.log"

    with notes_server(tmp_path / "instance", log_path) as base_url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            flash = page.locator("p.flash")

            # A visitor registers...
            page.goto(base_url + "/")
            # The stylesheet arrived: the header is white only through static/style.css.
            header = page.locator("header.site")
            expect(header).to_have_css("background-color", "rgb(255, 255, 255)")
            page.get_by_role("link", name="Create an account").click()
            page.get_by_label("Username").fill(USERNAME)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Register").click()
            expect(page).to_have_url(base_url + "/login")
            expect(flash).to_have_text(f"Welcome, {USERNAME}! Your account is ready: log in.")

            # ...logs in...
            page.get_by_label("Username").fill(USERNAME)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(base_url + "/notes/")
            expect(flash).to_have_text(f"Logged in as {USERNAME}.")
            expect(page.get_by_text("No notes yet.")).to_be_visible()

            # ...writes a note and attaches a picture...
            page.locator("header.site").get_by_role("link", name="New note").click()
            page.get_by_label("Title").fill(TITLE)
            page.locator("textarea#body").fill("The old one whistles out of tune.")
            page.get_by_role("button", name="Create").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
            expect(flash).to_have_text(f"Created the note “{TITLE}”.")
            page.get_by_label("Attach an image").set_input_files(str(image))
            page.get_by_role("button", name="Upload").click()
            expect(flash).to_have_text("Attached dot.png.")
            page.wait_for_function(
                "() => { const img = document.querySelector('article img');"
                " return img !== null && img.complete && img.naturalWidth === 1; }"
            )

            # ...sees it in the list...
            page.locator("header.site").get_by_role("link", name="My notes").click()
            expect(page.get_by_role("link", name=TITLE)).to_be_visible()

            # ...logs out, and the note is out of view, even when asked for.
            page.get_by_role("button", name="Log out").click()
            expect(page).to_have_url(base_url + "/")
            expect(flash).to_have_text("You are logged out.")
            expect(page.get_by_text(TITLE)).to_have_count(0)
            page.goto(base_url + "/notes/")
            expect(page).to_have_url(base_url + "/login?next=%2Fnotes%2F")
            expect(page.get_by_text(TITLE)).to_have_count(0)
        finally:
            browser.close()

    # Started with no configuration at all, the app said loudly that it runs in debug mode.
    log = log_path.read_text(errors="replace")
    assert "KETTLE_SECRET_KEY is not set" in log and "DEBUG mode" in log, log
    assert (tmp_path / "instance" / "notes.db").is_file()

"""Error pages outside debug: no exception text, and a request id that finds the log line.

Mirrors ``ErrorPolicy.default_response`` and ``request_id_of`` in kettle/pipeline.py
(SECURITY.md "Errors", hostile case 49).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from kettle import Kettle, Request, abort
from kettle.testing import TestClient
from tests.conftest import MakeApp

SECRET = "<b>secret</b>"
NEW_ID = re.compile(r"[0-9a-f]{16}")
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
API = {"accept": "application/json"}


def failing(make_app: MakeApp, **config: Any) -> Kettle:
    app = make_app(**config)

    @app.get("/async")
    async def broken_async(req: Request) -> str:
        raise RuntimeError(SECRET)

    @app.get("/sync")
    def broken_sync(req: Request) -> str:
        raise RuntimeError(SECRET)

    @app.get("/data")
    async def broken_data(req: Request) -> dict[str, int]:
        raise RuntimeError(SECRET)  # a route whose happy path is the adapter's fast path

    return app


def fetch(app: Kettle, path: str, headers: dict[str, str]) -> httpx.Response:
    with TestClient(app) as client:
        return client.get(path, headers=headers)


def request_id_in_body(response: httpx.Response) -> str:
    if response.headers["content-type"].startswith("text/html"):
        found = re.search(r"Request ID: <code>([^<]*)</code>", response.text)
        assert found is not None, response.text
        return found[1]
    request_id: str = response.json()["error"]["request_id"]
    return request_id


@pytest.mark.parametrize("path", ["/async", "/sync", "/data"])
@pytest.mark.parametrize(("headers", "kind"), [(BROWSER, "text/html"), (API, "application/json")])
def test_a_500_hides_the_error_and_shows_a_request_id(
    make_app: MakeApp,
    caplog: pytest.LogCaptureFixture,
    path: str,
    headers: dict[str, str],
    kind: str,
) -> None:
    with caplog.at_level(logging.ERROR, logger="kettle.error"):
        response = fetch(failing(make_app), path, headers)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith(kind)
    for leak in ("secret", "Traceback", "RuntimeError", "broken_"):
        assert leak not in response.text
    if kind == "application/json":
        assert response.json()["error"]["detail"] == "Internal Server Error"
    request_id = response.headers["x-request-id"]
    assert NEW_ID.fullmatch(request_id)
    assert request_id_in_body(response) == request_id
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert record.exc_info is not None
    assert caplog.text.count(request_id) == 1
    assert "Traceback" in caplog.text
    assert f"RuntimeError: {SECRET}" in caplog.text


def test_every_500_gets_its_own_id(make_app: MakeApp) -> None:
    with TestClient(failing(make_app)) as client:
        ids = {client.get("/async").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize(
    "sent", ["abc-123", "req.1:2_3", "a" * 64, "0f8fad5b-d9cb-469f-a165-70867728950e"]
)
def test_a_sane_request_id_from_a_trusted_proxy_is_reused(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture, sent: str
) -> None:
    app = failing(make_app, TRUSTED_PROXIES=["*"])
    with caplog.at_level(logging.ERROR, logger="kettle.error"):
        response = fetch(app, "/async", {**API, "x-request-id": sent})
    assert response.headers["x-request-id"] == sent
    assert request_id_in_body(response) == sent
    assert f"[request id {sent}]" in caplog.text


def test_a_clients_own_request_id_is_not_believed_without_a_trusted_proxy(
    make_app: MakeApp,
) -> None:
    response = fetch(failing(make_app), "/async", {**API, "x-request-id": "chosen-by-client"})
    assert response.headers["x-request-id"] != "chosen-by-client"
    assert NEW_ID.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize(
    "sent", ["has space", "a" * 65, "a" * 200, "<script>alert(1)</script>", "a\tb", "x/y", "a,b"]
)
@pytest.mark.parametrize("headers", [BROWSER, API], ids=["html", "json"])
def test_an_insane_incoming_request_id_is_replaced(
    make_app: MakeApp, sent: str, headers: dict[str, str]
) -> None:
    response = fetch(failing(make_app), "/async", {**headers, "x-request-id": sent})
    request_id = response.headers["x-request-id"]
    assert NEW_ID.fullmatch(request_id)
    assert request_id_in_body(response) == request_id
    assert "<script>" not in response.text


@pytest.mark.parametrize(("headers", "escaped"), [(BROWSER, True), (API, False)])
def test_debug_shows_the_traceback(
    make_app: MakeApp, headers: dict[str, str], escaped: bool
) -> None:
    response = fetch(failing(make_app, DEBUG=True), "/async", headers)
    assert response.status_code == 500
    message = "&lt;b&gt;secret&lt;/b&gt;" if escaped else SECRET
    assert f"RuntimeError: {message}" in response.text
    assert "Traceback" in response.text
    assert request_id_in_body(response) == response.headers["x-request-id"]


def test_a_failing_error_handler_still_gets_a_request_id(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = failing(make_app)

    @app.errorhandler(RuntimeError)
    async def also_broken(req: Request, exc: Exception) -> str:
        raise ValueError("handler broke")

    with caplog.at_level(logging.ERROR, logger="kettle.error"):
        response = fetch(app, "/async", API)
    request_id = response.headers["x-request-id"]
    assert response.status_code == 500
    assert response.text == f"Internal Server Error (request id {request_id})"
    assert f"[request id {request_id}]" in caplog.text
    assert "ValueError: handler broke" in caplog.text


@pytest.mark.parametrize("status", [400, 403, 404])
def test_http_errors_carry_no_request_id(make_app: MakeApp, status: int) -> None:
    app = make_app()

    @app.get("/refuse")
    async def refuse(req: Request) -> str:
        abort(status)

    response = fetch(app, "/refuse", API)
    assert response.status_code == status
    assert "x-request-id" not in response.headers
    assert "request_id" not in response.json()["error"]


def test_the_500_page_is_dressed(make_app: MakeApp) -> None:
    response = fetch(failing(make_app), "/async", BROWSER)
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["content-security-policy"].startswith("default-src 'self'")

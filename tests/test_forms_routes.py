"""Per-route form limits (``max_form_*`` on a route) through a real app."""

from __future__ import annotations

import pytest

from kettle import Request
from kettle.testing import TestClient

from .conftest import MakeApp


@pytest.mark.parametrize(
    ("option", "files", "data", "status"),
    [
        ({"max_form_fields": 2}, None, {"a": "1", "b": "2"}, 200),
        ({"max_form_fields": 2}, None, {"a": "1", "b": "2", "c": "3"}, 413),
        ({"max_form_files": 1}, {"f1": b"x"}, None, 200),
        ({"max_form_files": 1}, {"f1": b"x", "f2": b"y"}, None, 413),
        ({"max_form_part_size": "4B"}, {"f": b"x"}, {"short": "1234"}, 200),
        ({"max_form_part_size": "4B"}, {"f": b"x"}, {"long": "12345"}, 413),
    ],
)
def test_route_form_limits(
    make_app: MakeApp,
    option: dict[str, object],
    files: dict[str, bytes] | None,
    data: dict[str, str] | None,
    status: int,
) -> None:
    app = make_app()

    async def upload(req: Request) -> str:
        form = await req.form()
        return ",".join(sorted(form))

    app.add_route("/upload", upload, ["POST"], **option)  # type: ignore[arg-type]

    @app.post("/default")
    async def default(req: Request) -> str:
        return str(len(await req.form()))

    with TestClient(app) as client:
        response = client.post("/upload", data=data, files=files)
        assert response.status_code == status
        # Other routes keep the app's limits.
        assert client.post("/default", data={"a": "1", "b": "2", "c": "3"}).text == "3"

"""FileResponse and Content-Disposition; mirrors kettle/files.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from kettle import FileResponse, Request
from kettle.files import content_disposition
from kettle.testing import TestClient

from .conftest import MakeApp


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "report.csv").write_text("a,b\n1,2\n")
    (tmp_path / "big.bin").write_bytes(bytes(range(256)) * 1024)  # 256 KiB: several chunks
    (tmp_path / "sub").mkdir()
    return tmp_path


def make(make_app: MakeApp, root: Path) -> TestClient:
    app = make_app()

    @app.get("/files/<name>")
    def send(req: Request, name: str) -> FileResponse:
        return FileResponse(
            root / name, download_name=req.query.get("as"), as_attachment="dl" in req.query
        )

    return TestClient(app)


def test_sends_the_file_with_metadata(make_app: MakeApp, files: Path) -> None:
    with make(make_app, files) as client:
        response = client.get("/files/report.csv")
        assert response.status_code == 200
        assert response.text == "a,b\n1,2\n"
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-length"] == "8"
        assert response.headers["etag"].startswith('W/"')
        assert "last-modified" in response.headers
        assert "content-disposition" not in response.headers
        big = client.get("/files/big.bin")
        assert big.content == bytes(range(256)) * 1024
        head = client.head("/files/big.bin")
        assert head.content == b"" and head.headers["content-length"] == str(256 * 1024)


@pytest.mark.parametrize("name", ["missing.txt", "sub"])
def test_missing_file_or_directory_is_404(make_app: MakeApp, files: Path, name: str) -> None:
    with make(make_app, files) as client:
        assert client.get(f"/files/{name}").status_code == 404


def test_attachment_with_a_download_name(make_app: MakeApp, files: Path) -> None:
    with make(make_app, files) as client:
        response = client.get("/files/report.csv", params={"as": "rapport été.csv", "dl": "1"})
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"rapport _t_.csv\"; filename*=UTF-8''rapport%20%C3%A9t%C3%A9.csv"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plain.txt", 'attachment; filename="plain.txt"'),
        ('quo"te\\.txt', "attachment; filename=\"quo_te_.txt\"; filename*=UTF-8''quo%22te%5C.txt"),
        ("a\r\nb", "attachment; filename=\"a__b\"; filename*=UTF-8''a%0D%0Ab"),
    ],
)
def test_content_disposition_never_breaks_the_header(name: str, expected: str) -> None:
    assert content_disposition(name) == expected

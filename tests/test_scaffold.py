from __future__ import annotations

import importlib
import os
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

import kettle
from kettle import ConfigError, Kettle
from kettle.cli import main
from kettle.scaffold import create_project, package_name
from tests.servers.serverutil import free_port, serve
from tests.test_cli import child_env

FILES = {
    ".gitignore",
    "README.md",
    "kettle.toml",
    "pyproject.toml",
    "{p}/__init__.py",
    "{p}/app.py",
    "{p}/static/style.css",
    "{p}/templates/base.html",
    "{p}/templates/index.html",
    "tests/conftest.py",
    "tests/test_app.py",
}


def new(*args: str) -> Result:
    return CliRunner().invoke(main, ["new", *args])


def project_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def secret_key(root: Path) -> str:
    key: str = tomllib.loads((root / "kettle.toml").read_text())["secret_key"]
    return key


def project_env(root: Path) -> dict[str, str]:
    """The child's environment: this kettle and the project importable, no KETTLE_* leaks."""
    env = {k: v for k, v in child_env().items() if not k.startswith("KETTLE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(root), env["PYTHONPATH"]])
    return env


def run_project_tests(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        env=project_env(root),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- kettle new ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "package"), [("mysite", "mysite"), ("My-Site", "my_site")])
def test_new_writes_the_project(in_tmp: Path, name: str, package: str) -> None:
    result = new(name)
    assert result.exit_code == 0, result.output
    root = in_tmp / name
    assert project_files(root) == {f.format(p=package) for f in FILES}
    assert f"Created {name}/, a kettle project (package {package})." in result.output
    assert f"kettle run {package}.app:app --reload" in result.output
    for path in root.rglob("*"):
        if path.is_file():
            assert "[[" not in path.read_text(), path  # every marker was filled in


def test_pyproject(in_tmp: Path) -> None:
    root = create_project("my-site")
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "my-site"
    assert meta["project"]["dependencies"] == [f"kettle[uvicorn]>={kettle.__version__}"]
    assert any(
        dep.startswith("pytest>=") for dep in meta["project"]["optional-dependencies"]["dev"]
    )
    assert meta["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["my_site"]
    assert meta["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]


def test_secret_key_is_fresh_private_and_ignored(in_tmp: Path) -> None:
    one, two = create_project("one"), create_project("two")
    key = secret_key(one)
    assert len(key) >= 32
    assert key != secret_key(two)
    if os.name == "posix":
        assert stat.S_IMODE((one / "kettle.toml").stat().st_mode) == 0o600
    # The key is in kettle.toml alone, and git never sees that file.
    others = [p for p in one.rglob("*") if p.is_file() and p.name != "kettle.toml"]
    assert all(key not in p.read_text() for p in others)
    git = shutil.which("git")
    assert git is not None, "the test needs git"
    subprocess.run([git, "init", "-q"], cwd=one, check=True, timeout=30)
    ignored = subprocess.run([git, "check-ignore", "-q", "kettle.toml"], cwd=one, timeout=30)
    assert ignored.returncode == 0
    tracked = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=all"],
        cwd=one,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert "kettle.toml" not in tracked.stdout
    assert "one/app.py" in tracked.stdout


def test_existing_empty_folder_is_used(in_tmp: Path) -> None:
    (in_tmp / "mysite").mkdir()
    result = new("mysite")
    assert result.exit_code == 0, result.output
    assert (in_tmp / "mysite" / "mysite" / "app.py").is_file()


@pytest.mark.parametrize("existing", ["folder", "file"])
def test_existing_project_is_refused(in_tmp: Path, existing: str) -> None:
    target = in_tmp / "mysite"
    if existing == "folder":
        target.mkdir()
        (target / "notes.txt").write_text("mine")
    else:
        target.write_text("mine")
    result = new("mysite")
    assert result.exit_code == 1
    assert result.output == f"Error: {Path('mysite')} already exists and is not an empty folder\n"
    if existing == "folder":
        assert project_files(target) == {"notes.txt"}
    else:
        assert target.read_text() == "mine"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("1site", "use letters, digits, '-' and '_', starting with a letter"),
        ("my site", "use letters, digits"),
        ("my.site", "use letters, digits"),
        ("../evil", "use letters, digits"),
        ("site-", "use letters, digits"),
        ("sité", "use letters, digits"),
        ("class", "'class' is a Python keyword"),
        ("json", "the package 'json' would hide Python's or kettle's own module"),
        ("Kettle", "the package 'kettle' would hide"),
        ("tests", "the package 'tests' would hide"),
        ("httpx", "a module named 'httpx' is already installed"),
    ],
)
def test_bad_names_are_refused(in_tmp: Path, name: str, why: str) -> None:
    result = new(name)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: invalid project name {name!r}: ")
    assert why in result.output
    assert result.output.count("\n") == 1
    assert list(in_tmp.iterdir()) == []


def test_package_name() -> None:
    assert package_name("Blog") == "blog"
    assert package_name("my-cool_site2") == "my_cool_site2"
    with pytest.raises(ValueError, match="invalid project name ''"):
        package_name("")


# --- the generated project works ----------------------------------------------------------


@pytest.mark.parametrize("name", ["mysite", "my-site"])
def test_generated_project_passes_its_own_tests(in_tmp: Path, name: str) -> None:
    root = create_project(name)
    done = run_project_tests(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_generated_tests_pass_in_a_fresh_clone(in_tmp: Path) -> None:
    # A clone has no kettle.toml (it is never committed): the tests need no secret of theirs.
    root = create_project("mysite")
    (root / "kettle.toml").unlink()
    done = run_project_tests(root)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def imported_project(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A new project `kettle_site`, importable in this process; forgotten afterwards."""
    root = create_project("kettle-site")
    monkeypatch.setattr(sys, "path", [str(root), *sys.path])
    for name in ("KETTLE_SECRET_KEY", "KETTLE_CONFIG_FILE", "KETTLE_DEBUG", "KETTLE_TESTING"):
        monkeypatch.delenv(name, raising=False)
    importlib.invalidate_caches()
    yield root
    for module in [m for m in sys.modules if m == "kettle_site" or m.startswith("kettle_site.")]:
        del sys.modules[module]


def project_app(root: Path) -> Kettle:
    module = importlib.import_module("kettle_site.app")
    app = module.create_app()
    assert isinstance(app, Kettle)
    return app


def test_app_reads_the_key_from_kettle_toml(imported_project: Path) -> None:
    app = project_app(imported_project)
    assert app.config["SECRET_KEY"] == secret_key(imported_project)


def test_environment_wins_over_kettle_toml(
    imported_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KETTLE_SECRET_KEY", "from-the-environment-" + "k" * 20)
    app = project_app(imported_project)
    assert app.config["SECRET_KEY"] == "from-the-environment-" + "k" * 20


def test_without_a_key_the_app_refuses_to_start(imported_project: Path) -> None:
    (imported_project / "kettle.toml").unlink()
    app = project_app(imported_project)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        app.finalize()


def test_generated_project_is_lint_clean(in_tmp: Path) -> None:
    root = create_project("my-site")
    # Ruff's defaults (--isolated: no configuration from outside the project) plus
    # import order, bugbear, pyupgrade and simplify.
    checks = ["check", "--isolated", "--no-cache", "--select", "E,F,W,I,B,UP,SIM"]
    for command in (checks, ["format", "--isolated", "--no-cache", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "."],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_generated_project_type_checks(in_tmp: Path) -> None:
    root = create_project("my-site")
    mypy = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir"]
    done = subprocess.run(
        [*mypy, os.devnull, "."],
        cwd=root,
        env=project_env(root),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_kettle_run_serves_the_generated_project(in_tmp: Path) -> None:
    root = create_project("my-site")
    port = free_port()
    command = [sys.executable, "-m", "kettle", "run", "my_site.app:app", "--port", str(port)]
    log_path = in_tmp / "server.log"
    env = project_env(root)
    with (
        serve("kettle run", command, port=port, cwd=root, env=env, log_path=log_path) as up,
        httpx.Client(base_url=up.base_url, timeout=30) as browser,
    ):
        home = browser.get("/")
        assert "Hello, stranger!" in home.text
        assert home.status_code == 200
        assert home.headers["content-type"].startswith("text/html")
        style = browser.get("/static/style.css")
        assert style.status_code == 200
        assert style.text == (root / "my_site" / "static" / "style.css").read_text()
        # The session cookie carries the name across requests of this real server.
        posted = browser.post("/name", data={"name": "Grace"})
        assert posted.status_code == 303
        page = browser.get(posted.headers["location"])
        assert "Welcome back, Grace!" in page.text
        assert "Nice to meet you, Grace." in page.text
    assert up.stopped_cleanly, f"server ignored SIGTERM:\n{up.log()}"

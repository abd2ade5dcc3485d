from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner, Result

import kettle
from kettle import Kettle
from kettle.cli import load_app, main, pass_app
from tests.conftest import MakeApp
from tests.servers.serverutil import free_port, serve

# A raw ASGI app, so `kettle run` is tested against "any ASGI app", not only Kettle.
ASGI_APP = """
import os

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = f"hello debug={os.environ.get('KETTLE_DEBUG')}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})

CALLS = []

def create_app():
    CALLS.append(1)
    return app

not_an_app = 42
"""

WriteModule = Callable[[str, str], str]


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteModule]:
    """Write modules into a fresh cwd; undo sys.path and sys.modules changes afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    written: list[str] = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


# --- load_app ---------------------------------------------------------------------------


def test_load_app_forms(write_module: WriteModule) -> None:
    name = write_module("asgi_forms", ASGI_APP)
    module = load_app(name)  # bare module: its `app`
    assert module is sys.modules[name].app
    assert load_app(f"{name}:app") is module
    assert load_app(f"{name}.py:app") is module
    assert str(Path.cwd()) in sys.path


def test_load_app_calls_factory_once(write_module: WriteModule) -> None:
    name = write_module("asgi_factory", ASGI_APP)
    app = load_app(f"{name}:create_app()")
    assert app is sys.modules[name].app
    assert sys.modules[name].CALLS == [1]


def test_load_app_dotted_attribute(write_module: WriteModule) -> None:
    write_module("asgi_src", ASGI_APP)
    name = write_module("asgi_dotted", "import asgi_src as inner\n")
    assert load_app(f"{name}:inner.app") is sys.modules["asgi_src"].app


def test_load_app_errors_are_click_exceptions(write_module: WriteModule) -> None:
    with pytest.raises(click.ClickException, match="could not import 'kettle_nope'"):
        load_app("kettle_nope:app")


# --- errors: one line, exit status 1, no traceback --------------------------------------

ERROR_CASES = [
    ("missing module", "", "kettle_nope", "could not import 'kettle_nope': No module named"),
    ("missing package", "", "kettle_nope.sub:app", "could not import 'kettle_nope.sub'"),
    ("missing attribute", ASGI_APP, "{m}:nope", "module '{m}' has no attribute 'nope'"),
    ("no app attribute", "x = 1\n", "{m}", "has no attribute 'app' (name the app with '{m}:NAME')"),
    ("not callable", ASGI_APP, "{m}:not_an_app", "'{m}:not_an_app' is not an ASGI app (got int)"),
    ("factory no parens", ASGI_APP, "{m}:create_app", "a factory? use '{m}:create_app()'"),
    ("factory not callable", ASGI_APP, "{m}:not_an_app()", "'{m}:not_an_app' is not callable"),
    (
        "factory raises",
        "def make():\n    raise RuntimeError('no database')\n",
        "{m}:make()",
        "error while calling '{m}:make()': RuntimeError: no database ({m}.py, line 2)",
    ),
    (
        "import raises",
        "x = 1\ny = 1 / 0\n",
        "{m}",
        "error while importing '{m}': ZeroDivisionError: division by zero ({m}.py, line 2)",
    ),
    (
        "missing dependency",
        "import kettle_not_installed_dep\n",
        "{m}",
        "ModuleNotFoundError: No module named 'kettle_not_installed_dep' ({m}.py, line 1)",
    ),
    ("syntax error", "def broken(:\n", "{m}", "error while importing '{m}': SyntaxError:"),
    ("bad import string", "", "a-b:c", "invalid app 'a-b:c'"),
    ("bad factory call", ASGI_APP, "{m}:create_app(1)", "invalid app"),
]


@pytest.mark.parametrize("command", ["routes", "run", "--app"])
@pytest.mark.parametrize(
    ("case", "source", "target", "message"), ERROR_CASES, ids=[case[0] for case in ERROR_CASES]
)
def test_load_errors(
    write_module: WriteModule, command: str, case: str, source: str, target: str, message: str
) -> None:
    module = write_module(f"bad_{command.strip('-')}_{case.replace(' ', '_')}", source)
    app = target.format(m=module)
    # --app: the same loader finds the app whose command `hello` is asked for.
    result = invoke("--app", app, "hello") if command == "--app" else invoke(command, app)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ")
    assert message.format(m=module) in result.output
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_run_missing_server(
    write_module: WriteModule, monkeypatch: pytest.MonkeyPatch, server: str
) -> None:
    monkeypatch.setitem(sys.modules, server, None)
    name = write_module("asgi_noserver", ASGI_APP)
    result = invoke("run", name, "--server", server)
    assert result.exit_code == 1
    assert result.output == f"Error: {server} is not installed: pip install 'kettle[{server}]'\n"


def test_run_reload_with_workers_is_a_usage_error(write_module: WriteModule) -> None:
    result = invoke("run", "x:app", "--reload", "--workers", "2")
    assert result.exit_code == 2
    assert "--reload and --workers cannot be used together" in result.output


# --- run, with the server replaced by a recorder ----------------------------------------


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    # `kettle run` exports the header timeout for uvicorn's workers; keep it to this test.
    monkeypatch.setenv("KETTLE_HEADER_TIMEOUT", "10")
    return calls


def test_run_uvicorn_single_process_serves_loaded_object(
    write_module: WriteModule, uvicorn_calls: list[tuple[Any, dict[str, Any]]]
) -> None:
    name = write_module("asgi_inproc", ASGI_APP)
    result = invoke("run", f"{name}:create_app()", "--host", "0.0.0.0", "--port", "9001")
    assert result.exit_code == 0, result.output
    [(app, options)] = uvicorn_calls
    assert app is sys.modules[name].app
    assert sys.modules[name].CALLS == [1]  # the factory ran once, in this process
    assert options["factory"] is False
    assert (options["host"], options["port"], options["lifespan"]) == ("0.0.0.0", 9001, "on")
    assert options["http"] == "kettle._uvicorn:HeadTimeoutProtocol"
    assert options["loop"] == "uvloop"
    # kettle's protective server defaults (docs/security.md).
    assert options["proxy_headers"] is False
    assert options["server_header"] is False
    assert options["limit_concurrency"] == 2048
    assert options["timeout_keep_alive"] == 5
    assert options["timeout_graceful_shutdown"] == 30


@pytest.mark.parametrize("extra", [["--workers", "3"], ["--reload"]])
def test_run_uvicorn_multiprocess_uses_import_string(
    write_module: WriteModule,
    uvicorn_calls: list[tuple[Any, dict[str, Any]]],
    extra: list[str],
) -> None:
    name = write_module("asgi_multi", ASGI_APP)
    result = invoke("run", f"{name}.py:create_app()", *extra)
    assert result.exit_code == 0, result.output
    [(app, options)] = uvicorn_calls
    assert app == f"{name}:create_app"
    assert options["factory"] is True
    assert options["workers"] == (3 if "--workers" in extra else 1)
    assert options["reload"] is ("--reload" in extra)


KETTLE_APP = """
from kettle import Kettle

app = Kettle(__name__, config={"SECRET_KEY": "x" * 32})


@app.get("/")
async def index(req):
    return type(req).__name__
"""


@pytest.fixture
def granian_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    import granian

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    class FakeGranian:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            calls.append((args, kwargs))

        def serve(self) -> None:
            calls.append(((), {"served": True}))

    monkeypatch.setattr(granian, "Granian", FakeGranian)
    return calls


def test_run_granian_options(
    write_module: WriteModule, granian_calls: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> None:
    name = write_module("asgi_granian", ASGI_APP)
    result = invoke("run", name, "--server", "granian", "--workers", "2", "--port", "9002")
    assert result.exit_code == 0, result.output
    [(args, options), (_, served)] = granian_calls
    assert args == (f"{name}:app",)
    assert options["interface"] == "asgi"  # not a kettle app: no RSGI to speak
    assert (options["address"], options["port"], options["workers"]) == ("127.0.0.1", 9002, 2)
    assert options["factory"] is False
    assert options["reload"] is False
    assert options["backpressure"] == 2048
    assert options["http1_settings"].header_read_timeout == 10_000
    assert options["workers_kill_timeout"] == 30
    assert served == {"served": True}


@pytest.mark.parametrize(
    ("extra", "interface"),
    [([], "rsgi"), (["--interface", "auto"], "rsgi"), (["--interface", "asgi"], "asgi")],
)
def test_run_granian_serves_kettle_apps_over_rsgi_by_default(
    write_module: WriteModule,
    granian_calls: list[tuple[tuple[Any, ...], dict[str, Any]]],
    extra: list[str],
    interface: str,
) -> None:
    name = write_module("kettle_granian", KETTLE_APP)
    result = invoke("run", name, "--server", "granian", *extra)
    assert result.exit_code == 0, result.output
    [(_, options), _] = granian_calls
    assert options["interface"] == interface


@pytest.mark.parametrize(
    ("module", "extra", "message"),
    [
        ("asgi_rsgi", ["--server", "granian"], "--interface rsgi needs a kettle app"),
        ("kettle_rsgi_uvicorn", [], "--interface rsgi needs --server granian"),
    ],
)
def test_run_rsgi_needs_granian_and_a_kettle_app(
    write_module: WriteModule,
    granian_calls: list[tuple[tuple[Any, ...], dict[str, Any]]],
    module: str,
    extra: list[str],
    message: str,
) -> None:
    name = write_module(module, ASGI_APP if module.startswith("asgi") else KETTLE_APP)
    result = invoke("run", name, "--interface", "rsgi", *extra)
    assert result.exit_code == 2
    assert message in result.output
    assert granian_calls == []


def test_run_server_limits_are_configurable(
    write_module: WriteModule, uvicorn_calls: list[tuple[Any, dict[str, Any]]]
) -> None:
    name = write_module("asgi_limits", ASGI_APP)
    result = invoke(
        "run", name, "--limit-concurrency", "0", "--keep-alive", "2", "--graceful-timeout", "7"
    )
    assert result.exit_code == 0, result.output
    [(_, options)] = uvicorn_calls
    assert options["limit_concurrency"] is None  # 0: no limit
    assert (options["timeout_keep_alive"], options["timeout_graceful_shutdown"]) == (2, 7)


def test_run_debug_sets_env_before_import(
    write_module: WriteModule,
    monkeypatch: pytest.MonkeyPatch,
    uvicorn_calls: list[tuple[Any, dict[str, Any]]],
) -> None:
    monkeypatch.setenv("KETTLE_DEBUG", "0")  # so monkeypatch restores the original after
    name = write_module("asgi_debug", "import os\nSEEN = os.environ['KETTLE_DEBUG']\n" + ASGI_APP)
    result = invoke("run", name, "--debug")
    assert result.exit_code == 0, result.output
    assert sys.modules[name].SEEN == "1"


# --- run, for real ----------------------------------------------------------------------


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KETTLE_DEBUG"}
    # The child must import this checkout of kettle even when it is not pip-installed.
    src = str(Path(kettle.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


@pytest.mark.parametrize(
    ("server", "target", "extra", "body"),
    [
        ("uvicorn", "hello_app:app", [], "hello debug=None"),
        ("granian", "hello_app:app", [], "hello debug=None"),
        ("uvicorn", "hello_app", ["--debug"], "hello debug=1"),
        ("granian", "hello_app:create_app()", ["--debug"], "hello debug=1"),
        ("uvicorn", "hello_app:create_app()", ["--workers", "2"], "hello debug=None"),
        ("granian", "hello_app", ["--workers", "2"], "hello debug=None"),
    ],
    ids=[
        "uvicorn",
        "granian",
        "uvicorn-debug",
        "granian-factory-debug",
        "uvicorn-workers",
        "granian-workers",
    ],
)
def test_run_serves(tmp_path: Path, server: str, target: str, extra: list[str], body: str) -> None:
    (tmp_path / "hello_app.py").write_text(ASGI_APP)
    port = free_port()
    command = [sys.executable, "-m", "kettle.cli", "run", target, "--server", server]
    command += ["--port", str(port), *extra]
    log_path = tmp_path / "server.log"
    with serve(server, command, port=port, cwd=tmp_path, env=child_env(), log_path=log_path) as up:
        assert httpx.get(f"{up.base_url}/", timeout=30).text == body
    assert up.stopped_cleanly, f"server ignored SIGTERM:\n{up.log()}"


@pytest.mark.parametrize(
    ("extra", "request_class"),
    [([], "RSGIRequest"), (["--interface", "asgi"], "ASGIRequest")],
    ids=["default-rsgi", "asgi"],
)
def test_run_granian_kettle_app_for_real(
    tmp_path: Path, extra: list[str], request_class: str
) -> None:
    (tmp_path / "kettle_hello.py").write_text(KETTLE_APP)
    port = free_port()
    command = [sys.executable, "-m", "kettle.cli", "run", "kettle_hello", "--server", "granian"]
    command += ["--port", str(port), *extra]
    log_path = tmp_path / "server.log"
    with serve(
        "granian", command, port=port, cwd=tmp_path, env=child_env(), log_path=log_path
    ) as up:
        assert httpx.get(f"{up.base_url}/", timeout=30).text == request_class
    assert up.stopped_cleanly, f"server ignored SIGTERM:\n{up.log()}"


def test_python_dash_m_kettle_version(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kettle", "--version"],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.startswith("kettle ")
    assert "Python" in done.stdout


def test_help_lists_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "run" in result.output
    assert "routes" in result.output


# --- routes -----------------------------------------------------------------------------

FAKE_ROUTED_APP = """
from typing import Any, Callable, NamedTuple

class RouteInfo(NamedTuple):
    methods: tuple[str, ...]
    path: str
    name: str
    handler: Callable[..., Any]

def index(req): ...

class Users:
    def show(self, req, id): ...

class Mounted:
    async def __call__(self, scope, receive, send): ...

class App:
    def __init__(self, routes):
        self.routes = routes
    async def __call__(self, scope, receive, send): ...
    def iter_routes(self):
        return self.routes

app = App([
    RouteInfo(("GET", "HEAD"), "/", "index", index),
    RouteInfo(("GET",), "/users/<int:id>", "users.show", Users().show),
    RouteInfo(("*",), "/legacy", "legacy", Mounted()),
])
empty = App([])

class Broken(App):
    def iter_routes(self):
        raise ValueError("two routes for GET /")

broken = Broken([])
"""


def test_routes_table(write_module: WriteModule) -> None:
    name = write_module("routed_app", FAKE_ROUTED_APP)
    result = invoke("routes", f"{name}:app")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "METHODS   PATH             NAME        HANDLER",
        "--------  ---------------  ----------  ---------------------",
        "GET,HEAD  /                index       routed_app.index",
        "GET       /users/<int:id>  users.show  routed_app.Users.show",
        "*         /legacy          legacy      routed_app.Mounted",
    ]


def test_routes_empty(write_module: WriteModule) -> None:
    name = write_module("routed_empty", FAKE_ROUTED_APP)
    result = invoke("routes", f"{name}:empty")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["METHODS", "PATH", "NAME", "HANDLER"]
    assert len(result.output.splitlines()) == 2


def test_routes_not_a_kettle_app(write_module: WriteModule) -> None:
    name = write_module("routes_plain_asgi", ASGI_APP)
    result = invoke("routes", name)
    assert result.exit_code == 1
    assert result.output == f"Error: '{name}' is not a kettle app: it has no iter_routes()\n"


def test_routes_iter_routes_raises(write_module: WriteModule) -> None:
    name = write_module("routes_broken", FAKE_ROUTED_APP)
    result = invoke("routes", f"{name}:broken")
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: could not list the routes of '{name}:broken': ValueError: two routes for GET /"
    )
    assert "Traceback" not in result.output


def test_routes_kettle_app(write_module: WriteModule) -> None:
    name = write_module(
        "kettle_routed",
        """
        from kettle import Kettle

        app = Kettle(__name__, config={"SECRET_KEY": "x" * 32})

        @app.get("/users/<int:id>")
        def show(req, id):
            return {"id": id}

        @app.post("/users")
        async def create(req):
            return None
        """,
    )
    result = invoke("routes", f"{name}:app")
    assert result.exit_code == 0, result.output
    header, _rule, *rows = result.output.splitlines()
    assert header.split() == ["METHODS", "PATH", "NAME", "HANDLER"]
    # Columns line up: every cell of a column starts where its header does.
    starts = [header.index(title) for title in ("PATH", "NAME", "HANDLER")]
    for row in rows:
        assert all(row[start - 2 : start] == "  " and row[start] != " " for start in starts)
    show = next(row for row in rows if "/users/<int:id>" in row)
    assert "GET" in show.split()[0]
    assert show.endswith(f"{name}.show")
    create = next(row for row in rows if f"{name}.create" in row)
    assert "POST" in create.split()[0]


# --- the app's own commands -------------------------------------------------------------

COMMANDS_APP = """
import asyncio

import click

from kettle import Kettle
from kettle.cli import pass_app

app = Kettle(__name__, config={"SECRET_KEY": "x" * 32})
SEEN = []


@app.get("/")
def index(req):
    return "home"


@app.cli.command()
def hello():
    \"""Say hello.\"""
    click.echo("hello from the app")


@app.cli.command("init-db")
@click.option("--tables", default=1, type=int)
@pass_app
async def init_db(app, tables):
    \"""Create the tables.\"""
    await asyncio.sleep(0)
    SEEN.append(app)
    click.echo(f"{app.import_name}: {tables} tables")


@app.cli.command()
@pass_app
def whoami(app):
    \"""Name the app.\"""
    SEEN.append(app)
    click.echo(app.import_name)


@app.cli.group()
def users():
    \"""Manage users.\"""


@users.command("add")
@click.argument("name")
@click.pass_context
async def add_user(ctx, name):
    await asyncio.sleep(0)
    click.echo(f"added {name} by {ctx.parent.info_name}")


@app.cli.command()
def routes():
    \"""Shadowed: the built-in command of this name wins.\"""
    click.echo("the app's routes")


@app.cli.command()
async def fail():
    raise click.ClickException("the database is down")


@app.cli.command(hidden=True)
def secret():
    click.echo("hidden but runnable")
"""


@pytest.fixture
def commands_app(write_module: WriteModule, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("KETTLE_APP", raising=False)
    return write_module("commands_app", COMMANDS_APP)


def invoke_with_app(name: str, how: str, *args: str) -> Result:
    """Run `kettle ARGS` with the app given as --app or in KETTLE_APP."""
    if how == "option":
        return CliRunner().invoke(main, ["--app", name, *args])
    return CliRunner(env={"KETTLE_APP": name}).invoke(main, list(args))


HOW = ["option", "env"]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(
    ("args", "output"),
    [
        (["hello"], "hello from the app\n"),
        (["init-db", "--tables", "3"], "commands_app: 3 tables\n"),
        (["whoami"], "commands_app\n"),
        (["users", "add", "ada"], "added ada by users\n"),
        (["secret"], "hidden but runnable\n"),
    ],
    ids=["sync", "async-pass-app-option", "pass-app", "async-nested-group", "hidden"],
)
def test_app_command_runs(commands_app: str, how: str, args: list[str], output: str) -> None:
    result = invoke_with_app(commands_app, how, *args)
    assert result.exit_code == 0, result.output
    assert result.output == output


def test_pass_app_passes_the_loaded_app(commands_app: str) -> None:
    assert invoke("--app", f"{commands_app}:app", "init-db").exit_code == 0
    assert invoke("--app", commands_app, "whoami").exit_code == 0
    module = sys.modules[commands_app]
    assert [module.app, module.app] == module.SEEN


def test_app_commands_are_not_changed(commands_app: str) -> None:
    result = invoke("--app", commands_app, "init-db")
    assert result.exit_code == 0, result.output
    # kettle runs a copy that awaits the coroutine; the app's own command is left as written.
    command = sys.modules[commands_app].app.cli.commands["init-db"]
    assert inspect.iscoroutinefunction(inspect.unwrap(command.callback))


def test_app_command_error_is_one_line(commands_app: str) -> None:
    result = invoke("--app", commands_app, "fail")
    assert result.exit_code == 1
    assert result.output == "Error: the database is down\n"


def test_builtin_command_wins_over_app_command(commands_app: str) -> None:
    result = invoke("--app", commands_app, "routes")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["METHODS", "PATH", "NAME", "HANDLER"]
    assert f"{commands_app}.index" in result.output


def help_sections(output: str) -> dict[str, list[str]]:
    """`kettle --help` as {section title: command names}."""
    sections: dict[str, list[str]] = {}
    title = None
    for line in output.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            title = line[:-1]
            sections[title] = []
        elif title and title != "Options" and line.startswith("  "):
            sections[title].append(line.split()[0])
    return sections


BUILT_IN = ["new", "routes", "run"]


def test_help_without_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KETTLE_APP", raising=False)
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    assert help_sections(result.output) == {"Options": [], "Commands": BUILT_IN}
    assert "KETTLE_APP" in result.output


@pytest.mark.parametrize(
    "args",
    [["--app", "commands_app", "--help"], ["--help", "--app", "commands_app"], ["--help"]],
    ids=["app-then-help", "help-then-app", "env"],
)
def test_help_lists_app_commands(commands_app: str, args: list[str]) -> None:
    runner = CliRunner(env={"KETTLE_APP": commands_app} if "--app" not in args else {})
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert help_sections(result.output) == {
        "Options": [],
        "Commands": BUILT_IN,
        # `routes` is shadowed by the built-in, `secret` is hidden.
        f"Commands of {commands_app}": ["fail", "hello", "init-db", "users", "whoami"],
    }
    assert "init-db  Create the tables." in result.output


def test_help_with_a_broken_app_still_helps(write_module: WriteModule) -> None:
    name = write_module("broken_for_help", "raise RuntimeError('no config')\n")
    result = invoke("--app", name, "--help")
    assert result.exit_code == 0
    assert help_sections(result.stdout) == {"Options": [], "Commands": BUILT_IN}
    assert result.stderr == (
        f"Error: error while importing '{name}': RuntimeError: no config ({name}.py, line 1)\n"
    )


def test_builtins_do_not_load_the_app(write_module: WriteModule) -> None:
    # A broken --app matters only to the commands that use it.
    other = write_module("routed_other", FAKE_ROUTED_APP)
    for args in (["--version"], ["routes", f"{other}:empty"], ["run", "--help"]):
        result = invoke("--app", "kettle_nope", *args)
        assert result.exit_code == 0, result.output
        assert "kettle_nope" not in result.output


def test_unknown_command_without_app_hints_at_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KETTLE_APP", raising=False)
    result = invoke("init-db")
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: No such command 'init-db'. An app's own commands need --app MODULE:ATTR "
        "or KETTLE_APP.\n"
    )


@pytest.mark.parametrize("target", ["commands_app", "asgi_plain"])
def test_unknown_command_with_app(write_module: WriteModule, target: str) -> None:
    write_module("commands_app", COMMANDS_APP)
    write_module("asgi_plain", ASGI_APP)  # any ASGI app: it simply has no commands
    result = invoke("--app", target, "nosuch")
    assert result.exit_code == 2
    assert result.output.endswith("Error: No such command 'nosuch'.\n")


def test_main_with_app_object(commands_app: str) -> None:
    # Tests can hand the app itself to the kettle command: no import string needed.
    app = load_app(commands_app)
    result = CliRunner().invoke(main, ["init-db", "--tables", "2"], obj=app)
    assert result.exit_code == 0, result.output
    assert result.output == "commands_app: 2 tables\n"
    assert [app] == sys.modules[commands_app].SEEN


def test_pass_app_on_app_cli_invoked_directly(commands_app: str) -> None:
    app = load_app(commands_app)
    result = CliRunner().invoke(app.cli, ["whoami"], obj=app)
    assert result.exit_code == 0, result.output
    assert result.output == "commands_app\n"
    missing = CliRunner().invoke(app.cli, ["whoami"])
    assert missing.exit_code == 2
    assert "this command needs its app: run it as `kettle --app MODULE:ATTR COMMAND`" in (
        missing.output
    )


@pytest.mark.parametrize("how", HOW)
def test_routes_app_from_option_or_env(commands_app: str, how: str) -> None:
    result = invoke_with_app(commands_app, how, "routes")
    assert result.exit_code == 0, result.output
    assert f"{commands_app}.index" in result.output


def test_routes_positional_wins_over_app(commands_app: str, write_module: WriteModule) -> None:
    other = write_module("routed_positional", FAKE_ROUTED_APP)
    result = invoke("--app", commands_app, "routes", f"{other}:app")
    assert result.exit_code == 0, result.output
    assert f"{other}.index" in result.output
    assert commands_app not in result.output


@pytest.mark.parametrize("how", HOW)
def test_run_app_from_option_or_env(
    commands_app: str, how: str, uvicorn_calls: list[tuple[Any, dict[str, Any]]]
) -> None:
    result = invoke_with_app(commands_app, how, "run", "--port", "9003")
    assert result.exit_code == 0, result.output
    [(app, options)] = uvicorn_calls
    assert app is sys.modules[commands_app].app
    assert options["port"] == 9003


@pytest.mark.parametrize("command", ["run", "routes"])
def test_missing_app_argument(monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    monkeypatch.delenv("KETTLE_APP", raising=False)
    result = invoke(command)
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: Missing argument 'APP': name the app (module:attr) here, with --app, "
        "or in KETTLE_APP.\n"
    )


def test_app_command_in_a_real_process(tmp_path: Path) -> None:
    (tmp_path / "commands_app.py").write_text(COMMANDS_APP)
    done = subprocess.run(
        [sys.executable, "-m", "kettle", "init-db", "--tables", "4"],
        cwd=tmp_path,
        env={**child_env(), "KETTLE_APP": "commands_app:app"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "commands_app: 4 tables\n"


def test_pass_app_on_a_command_defined_in_python(make_app: MakeApp) -> None:
    app = make_app()
    seen: list[Kettle] = []

    @app.cli.command()
    @click.option("--times", type=int, default=1)
    @pass_app
    async def tick(app: Kettle, times: int) -> None:
        """Tick."""
        seen.append(app)
        click.echo(" ".join(["tick"] * times))

    result = CliRunner().invoke(main, ["tick", "--times", "3"], obj=app)
    assert result.exit_code == 0, result.output
    assert result.output == "tick tick tick\n"
    assert seen == [app]

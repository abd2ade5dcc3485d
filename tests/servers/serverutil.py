"""Start real servers in subprocesses (ASGI, and granian over RSGI), and talk to them over
raw sockets.

Each server runs in a session (process group) of its own, so stopping it also stops any
worker process it spawned; nothing outlives the test module that started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
SERVERS = ("uvicorn", "granian", "hypercorn")
#: :data:`SERVERS` and granian speaking RSGI to the same app object.
ALL_SERVERS = (*SERVERS, "granian-rsgi")
APP = "app_under_test:app"
#: Waiting for a server to come up or go down; generous, never an assertion about speed.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
#: hypercorn reads request heads up to this size, like uvicorn and granian (about 64 KiB),
#: so that over-long paths and query strings reach kettle, which must answer them.
MAX_HEAD_SIZE = 64 * 1024


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(name: str, port: int, workdir: Path) -> list[str]:
    """The command line that serves :data:`APP` with ``name`` on ``port``."""
    python = sys.executable
    if name == "uvicorn":
        return [
            *(python, "-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", str(port)),
            *("--http", "httptools", "--loop", "uvloop", "--lifespan", "on"),
            *("--log-level", "warning", "--no-access-log"),
        ]
    if name in ("granian", "granian-rsgi"):
        interface = "rsgi" if name == "granian-rsgi" else "asgi"
        return [
            *(python, "-m", "granian", "--interface", interface),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-ws"),
            *("--http", "1", "--log-level", "warning", "--no-access-log", APP),
        ]
    if name == "hypercorn":
        config = workdir / "hypercorn.toml"
        config.write_text(f"h11_max_incomplete_size = {MAX_HEAD_SIZE}\n")
        return [
            *(python, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}"),
            *("--config", str(config), "--log-level", "warning", APP),
        ]
    raise ValueError(f"unknown server {name!r}")


@dataclass
class Server:
    """A server process listening on ``port``, and where its output goes."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    base_url: str = field(init=False)
    #: Set once the server is stopped: whether it had exited by itself or on SIGTERM
    #: within :data:`STOP_TIMEOUT`, before its group was killed (``None`` while it runs).
    stopped_cleanly: bool | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.base_url = f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server (and the app) wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 10.0) -> bool:
        """Whether ``text`` shows up in the log within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return text in self.log()


def clean_environment(pythonpath: Path | None = None) -> dict[str, str]:
    """This process's environment without ``KETTLE_*`` variables, output unbuffered, and
    ``pythonpath`` (if given) first on ``PYTHONPATH``.

    KETTLE_* variables of the developer's shell (KETTLE_DEBUG=1 ...) would change what the
    app answers; a server under test gets only the configuration its test gives it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETTLE_")}
    env["PYTHONUNBUFFERED"] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return env


def _wait_until_serving(server: Server, ready_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with status {server.process.returncode}:\n{server.log()}"
            )
        # Any HTTP answer will do: the server is up; what it answers is for the test to check.
        with contextlib.suppress(httpx.TransportError):
            httpx.get(ready_url, timeout=2.0)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer within {timeout}s:\n{server.log()}")


def stop(process: subprocess.Popen[bytes]) -> bool:
    """Stop a server as a process manager would, then make sure its group is gone.

    SIGTERM goes to the main process only: it shuts its workers down gracefully (lifespan
    shutdown included), while hypercorn's workers, signalled directly, die without it.
    Whatever is left of the process group afterwards is killed. Returns whether the main
    process had exited (by itself or on SIGTERM) before that.
    """
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
    stopped_cleanly = process.poll() is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(STOP_TIMEOUT)
    return stopped_cleanly


@contextlib.contextmanager
def serve(
    name: str,
    command: list[str],
    *,
    port: int,
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    ready_path: str = "/",
    timeout: float = START_TIMEOUT,
) -> Iterator[Server]:
    """Run ``command`` (a server listening on ``port``) for the duration of the block.

    Its stdout and stderr go to ``log_path``. The block starts once ``ready_path`` gets an
    HTTP answer, whatever its status; :class:`RuntimeError`, with the log, if the process
    exits first or ``timeout`` seconds pass. The process runs in a session of its own, and
    the whole group is stopped with :func:`stop` when the block ends.
    """
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, port, process, log_path)
    try:
        _wait_until_serving(server, server.base_url + ready_path, timeout)
        yield server
    finally:
        server.stopped_cleanly = stop(process)


@contextlib.contextmanager
def running_server(
    name: str, workdir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Serve :data:`APP` with ``name`` on a free port for the duration of the block
    (with ``extra_env`` added to the server's environment).
    """
    port = free_port()
    command = server_command(name, port, workdir)
    log_path = workdir / f"{name}.log"
    with serve(
        name,
        command,
        port=port,
        cwd=HERE,
        env={**clean_environment(HERE), **(extra_env or {})},
        log_path=log_path,
        ready_path="/plaintext",
    ) as server:
        yield server


@dataclass
class RawResponse:
    """A response read off a socket: the status line parsed, the rest kept as bytes."""

    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(
    server: Server,
    target: str,
    method: str = "GET",
    headers: tuple[str, ...] = (),
    body: bytes = b"",
    timeout: float = 30.0,
) -> RawResponse:
    """Send ``method target`` exactly as written, bypassing any client-side normalisation.

    ``headers`` are extra header lines (``"Name: value"``). The request asks the server to
    close the connection, so the response ends at EOF; interim (1xx) responses are skipped.
    """
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks: list[bytes] = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    rest = b"".join(chunks)
    while True:
        head, _, rest = rest.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise AssertionError(f"not an HTTP response from {server.name}: {head[:200]!r}")
        if not parts[1].startswith("1"):
            break
    parsed: dict[str, str] = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        parsed[key.strip().lower()] = value.strip()
    return RawResponse(int(parts[1]), parsed, rest)

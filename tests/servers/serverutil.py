"""Start real ASGI servers in subprocesses, and talk to them over raw sockets.

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
    if name == "granian":
        return [
            *(python, "-m", "granian", "--interface", "asgi"),
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
    """A server process serving :data:`APP`, and where its output goes."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    base_url: str = field(init=False)

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


def _environment() -> dict[str, str]:
    # KETTLE_* variables of the developer's shell (KETTLE_DEBUG=1 ...) would change what
    # the app answers; the app under test sets its whole config itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETTLE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_until_serving(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with status {server.process.returncode}:\n{server.log()}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.base_url}/plaintext", timeout=2.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer within {START_TIMEOUT}s:\n{server.log()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server as a process manager would, then make sure its group is gone.

    SIGTERM goes to the main process only: it shuts its workers down gracefully (lifespan
    shutdown included), while hypercorn's workers, signalled directly, die without it.
    Whatever is left of the process group afterwards is killed.
    """
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(STOP_TIMEOUT)


@contextlib.contextmanager
def running_server(name: str, workdir: Path) -> Iterator[Server]:
    """Serve :data:`APP` with ``name`` on a free port for the duration of the block."""
    port = free_port()
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            server_command(name, port, workdir),
            cwd=HERE,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, port, process, log_path)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        stop(process)


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

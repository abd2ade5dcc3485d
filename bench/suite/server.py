"""Start one app on one server, pinned to the server CPU, and stop it again.

Each server runs in its own process group (``start_new_session``) so granian's and
gunicorn's worker processes stop with it. Output goes to a log file, whose tail becomes
the reason shown when a server will not start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.suite import scenarios
from bench.suite.frameworks import ROOT, Framework

SERVER_CPU = "0"
LOAD_CPU = "1"
START_TIMEOUT = 60.0


def pinned(cpu: str, command: list[str]) -> list[str]:
    """``command`` pinned to ``cpu`` with taskset (unpinned on a one-CPU machine)."""
    if (os.cpu_count() or 1) < 2:
        return command
    return ["taskset", "-c", cpu, *command]


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(track: str, database_url: str) -> dict[str, str]:
    """The environment every server gets: the track, the database, ``bench`` importable."""
    env = dict(os.environ)
    env.update(
        BENCH_TRACK=track,
        BENCH_DATABASE_URL=database_url,
        PYTHONPATH=os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH")))),
        NODE_ENV="production",
    )
    return env


@dataclass
class Server:
    """A running server: its process, port and log."""

    framework: Framework
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    command: list[str]

    def alive(self) -> bool:
        return self.process.poll() is None

    def failure_line(self) -> str:
        """The log's last line that names an error (else its last line), for a reason."""
        try:
            lines = [line.strip() for line in self.log.read_text(errors="replace").splitlines()]
        except OSError:
            return ""
        lines = [line for line in lines if line and not line.startswith("---")]
        errors = [line for line in lines if "Error" in line or "error" in line]
        line = (errors or lines or [""])[-1]
        return line.replace(f"{ROOT}/", "")[:240]

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after 10 s."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class StartError(Exception):
    """The server did not come up; the message says why (for the results table)."""


def start(
    framework: Framework,
    scenario: str,
    track: str,
    log_dir: Path,
    database_url: str,
    pool_size: int,
) -> Server:
    """Serve ``framework`` set up for ``scenario`` on the ``track`` and wait until it answers.

    ``pool_size`` caps the app's database pool (the apps of a family run side by side).
    """
    port = free_port()
    command = framework.command(port, scenario)
    env = server_env(track, database_url)
    env["PORT"] = str(port)
    env["BENCH_POOL_SIZE"] = str(pool_size)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{framework.name.replace('/', '-')}-{track}.log"
    with log.open("ab") as out:
        out.write(f"\n--- {time.strftime('%H:%M:%S')} {' '.join(command)}\n".encode())
        out.flush()
        process = subprocess.Popen(
            pinned(SERVER_CPU, command),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(framework, port, process, log, command)
    problem = scenarios.wait_until_up(port, START_TIMEOUT, server.alive)
    if problem is not None:
        server.stop()
        line = server.failure_line()
        raise StartError(f"{problem}{': ' + line if line else ''}")
    return server

"""The peers' own environments: ``bench/.venv-peers`` and ``bench/node/node_modules``.

kettle's development environment never changes for a benchmark: the suite makes a venv
of its own, installs kettle into it (editable, with its server and PostgreSQL extras)
and the peers pinned in ``bench/requirements-peers.txt``, and installs the node peers
from ``bench/node/package-lock.json`` with ``npm ci``. Each is reinstalled only when its
requirement files change (a hash kept beside it). Standard library only: this module
runs before the venv exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.suite.frameworks import BENCH, NODE_DIR, ROOT

VENV = BENCH / ".venv-peers"
REQUIREMENTS = BENCH / "requirements-peers.txt"
_VENV_STAMP = VENV / ".installed-from"
_NODE_STAMP = NODE_DIR / "node_modules" / ".installed-from"
#: Set in the re-executed runner, so it never tries to re-enter the venv again.
IN_VENV_FLAG = "KETTLE_BENCH_IN_VENV"


def _digest(*paths: Path) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes() if path.exists() else b"-")
    return sha.hexdigest()


def venv_python() -> Path:
    return VENV / "bin" / "python"


def in_venv() -> bool:
    return os.environ.get(IN_VENV_FLAG) == "1"


def ensure_python(*, force: bool = False) -> Path:
    """Create or refresh the peers venv; its interpreter."""
    stamp = _digest(REQUIREMENTS, ROOT / "pyproject.toml")
    python = venv_python()
    if not python.exists():
        print(f"creating {VENV.relative_to(ROOT)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        force = True
    if force or not _VENV_STAMP.exists() or _VENV_STAMP.read_text() != stamp:
        print("installing kettle and the Python peers into the peers venv ...", flush=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True
        )
        subprocess.run(
            [
                str(python), "-m", "pip", "install", "--quiet",
                "-e", f"{ROOT}[all]",
                "-r", str(REQUIREMENTS),
            ],
            check=True,
        )  # fmt: skip
        _VENV_STAMP.write_text(stamp)
    return python


def node_version() -> str | None:
    """``v20.x.y``, or ``None`` without node."""
    if shutil.which("node") is None:
        return None
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None


def ensure_node() -> str | None:
    """Install the node peers; why they cannot run, or ``None`` when they can."""
    version = node_version()
    if version is None or shutil.which("npm") is None:
        return "node and npm are not installed (Debian: apt-get install nodejs npm)"
    major = int(version.lstrip("v").split(".")[0] or 0)
    if major < 20:
        return f"Fastify 5 needs node 20 or later, found {version}"
    lock = NODE_DIR / "package-lock.json"
    stamp = _digest(NODE_DIR / "package.json", lock)
    if _NODE_STAMP.exists() and _NODE_STAMP.read_text() == stamp:
        return None
    print("installing the node peers (npm) ...", flush=True)
    verb = ["ci"] if lock.exists() else ["install"]
    done = subprocess.run(
        ["npm", *verb, "--no-audit", "--no-fund", "--omit=dev"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"npm {verb[0]} failed: {done.stderr.strip()[-300:]}"
    _NODE_STAMP.write_text(_digest(NODE_DIR / "package.json", lock))
    return None


def reexec_in_venv(python: Path, argv: list[str]) -> None:
    """Run this command again with the peers venv's interpreter (does not return)."""
    env = dict(os.environ, **{IN_VENV_FLAG: "1"})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    os.chdir(ROOT)
    os.execve(str(python), [str(python), "-m", "bench.suite", *argv], env)

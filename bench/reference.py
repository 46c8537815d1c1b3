"""The Node socket.io reference server (bench/node/): installed from its lockfile, started."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from autograder.harness import Launcher, ManagedProcess, StartError, free_port, wait_until
from autograder.readiness import engineio_ready

NODE_DIR = Path(__file__).resolve().parent / "node"
LOCK = NODE_DIR / "package-lock.json"
INSTALLED = NODE_DIR / "node_modules" / ".package-lock.json"  # npm writes it on every install
INSTALL_TIME_LIMIT = 300.0


def ensure_installed() -> None:
    """`npm ci` in bench/node when node_modules is missing or older than the lockfile."""
    if INSTALLED.is_file() and INSTALLED.stat().st_mtime >= LOCK.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise StartError("npm not found: the Node reference server needs Node.js 20 and npm.")
    print("==> bench/node: socket.io reference server from npm (package-lock.json)", flush=True)
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIME_LIMIT,
    )
    if done.returncode != 0:
        raise StartError(f"npm ci in {NODE_DIR} failed:\n{done.stderr[-2000:]}")


def start_node(
    launcher: Launcher, env: dict, port: int | None = None
) -> tuple[str, ManagedProcess]:
    """bench/node/server.js on a free port; its URL once Engine.IO answers."""
    node = shutil.which("node")
    if node is None:
        raise StartError("node not found: the reference server needs Node.js 20.")
    ensure_installed()
    port = port or free_port()
    process = launcher.start(
        "node-socketio",
        [node, "server.js"],
        cwd=NODE_DIR,
        env={**env, "BIND": f"127.0.0.1:{port}"},
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(engineio_ready(url), process, f"answer on {url}")
    return url, process

